//! Breaks nothing: copies every record unchanged, optionally setting the topic
//! of every record to config `route_topic`. Used to measure a transform
//! stage's cost and to test routing.

use streamplug_sdk::{BatchWriter, BatchWriterExt, Config, Records, Transform};

struct Passthrough {
    route_topic: Option<String>,
}

impl Transform for Passthrough {
    fn init(config: Config) -> Result<Self, String> {
        Ok(Passthrough {
            route_topic: config.get("route_topic").map(str::to_owned),
        })
    }

    fn process(&mut self, input: Records<'_>, out: &mut BatchWriter) -> Result<(), String> {
        match self.route_topic.as_deref() {
            None => input.for_each(|r| out.push(&r)),
            Some(topic) => input.for_each(|r| out.push_with(&r, Some(topic), &[])),
        }
        Ok(())
    }
}

streamplug_sdk::export_transform!(Passthrough);
