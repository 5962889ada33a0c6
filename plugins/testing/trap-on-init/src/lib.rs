//! Breaks at start-up: `init` panics (a trap), or with config `mode = "err"`
//! returns an error instead (the err-on-init behaviour), so the plugin never
//! runs. `process` would pass records through.

use streamplug_sdk::{BatchWriter, Config, Records, Transform};

struct TrapOnInit;

impl Transform for TrapOnInit {
    fn init(config: Config) -> Result<Self, String> {
        match config.get("mode").unwrap_or("trap") {
            "err" => Err("trap-on-init: init refused, as configured (mode = err)".into()),
            _ => panic!("trap-on-init: init panics, as configured"),
        }
    }

    fn process(&mut self, input: Records<'_>, out: &mut BatchWriter) -> Result<(), String> {
        input.for_each(|r| out.push(&r));
        Ok(())
    }
}

streamplug_sdk::export_transform!(TrapOnInit);
