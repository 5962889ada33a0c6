//! Plugins that cannot run are given up on, and the run ends: one whose
//! `setup` refuses its config at once (it is not a crash, and would refuse
//! again), one that traps on every call or every start once its failures pass
//! `max_restarts` within the window of running time, however long the
//! backoff has grown. The healthy source beside them loses nothing.

use streamplug_tests::{
    Scratch, artifacts, assert_complete, counter, healthy_datagen, run_ok, unique_topic,
};

#[test]
fn a_source_that_refuses_its_config_is_given_up_on_at_once_and_the_run_ends() {
    let dir = Scratch::new("refuses-config");
    let healthy_topic = unique_topic("refuses-config-healthy");
    // A typo in [source.config]: datagen refuses unknown keys.
    let config = format!(
        "{}\n[[source]]\nname = \"typo\"\ntopic = \"{}\"\nwasm = \"{}\"\n[source.config]\ncuont = 5\n",
        healthy_datagen("healthy", &healthy_topic, 2_000),
        unique_topic("refuses-config"),
        artifacts::DATAGEN,
    );
    let (s, stderr) = run_ok(&dir, &config);
    assert_eq!(s["plugins"]["typo"]["gave_up"], true, "{s}");
    assert_eq!(counter(&s, "typo", "restarts"), 0, "not restarted: {s}");
    let lines: Vec<&str> = stderr.lines().filter(|l| l.contains("typo")).collect();
    let refusal = lines
        .iter()
        .find(|l| l.contains("given up on"))
        .unwrap_or_else(|| panic!("no give-up line:\n{stderr}"));
    assert!(
        refusal.contains("setup refused its config: config `cuont` is not a known setting"),
        "the plugin's own message is in the log: {refusal}"
    );
    assert_eq!(
        lines
            .iter()
            .filter(|l| l.contains("refused its config"))
            .count(),
        1,
        "refused once, not retried:\n{stderr}"
    );
    assert_eq!(s["plugins"]["healthy"]["gave_up"], false);
    assert_complete(&healthy_topic, 2_000);
}

#[test]
fn a_transform_that_refuses_its_config_stops_its_pipeline_and_counts_the_batch() {
    let dir = Scratch::new("transform-refuses");
    let topic = unique_topic("transform-refuses");
    let config = format!(
        "{}transforms = [\"picky\"]\n\n[[transform]]\nname = \"picky\"\nwasm = \"{}\"\n[transform.config]\nmode = \"err\"\n",
        healthy_datagen("gen", &topic, 1_000).replace("[source.config]\ncount = 1000\n", ""),
        artifacts::TEST_TRAP_ON_INIT,
    );
    let (s, stderr) = run_ok(&dir, &config);
    assert_eq!(s["plugins"]["picky"]["gave_up"], true, "{s}");
    assert_eq!(counter(&s, "picky", "restarts"), 0, "{s}");
    // The batch in hand is counted as failed, with the refusal as its cause.
    let failed = counter(&s, "gen", "failed");
    assert!(failed > 0, "{s}");
    assert_eq!(failed, counter(&s, "gen", "records_in"), "{s}");
    assert_eq!(counter(&s, "gen", "delivered"), 0);
    let failures = s["plugins"]["gen"]["failures"].to_string();
    assert!(
        failures.contains("transform `picky` was given up on: setup refused its config: trap-on-init: init refused"),
        "{failures}\n{stderr}"
    );
}

#[test]
fn a_source_that_traps_on_every_call_is_given_up_on_though_its_backoff_outgrows_the_window() {
    let dir = Scratch::new("backoff-window");
    let healthy_topic = unique_topic("backoff-window-healthy");
    // Backoffs of 100, 200, 400, 400 ms, a window of 300 ms: counted on the
    // wall clock, no more than two failures ever fall within the window.
    // panic-on-nth with n = 0 panics in its first poll.
    let config = format!(
        "{}\n[[source]]\nname = \"broken\"\ntopic = \"{}\"\nwasm = \"{}\"\n[source.config]\nn = 0\n\
         [runtime]\nrestart_backoff_ms = 100\nrestart_backoff_max_ms = 400\nrestart_window_ms = 300\nmax_restarts = 3\n",
        healthy_datagen("healthy", &healthy_topic, 2_000),
        unique_topic("backoff-window"),
        artifacts::TEST_PANIC_ON_NTH,
    );
    let (s, stderr) = run_ok(&dir, &config);
    assert_eq!(s["plugins"]["broken"]["gave_up"], true, "{s}\n{stderr}");
    assert_eq!(counter(&s, "broken", "restarts"), 3, "{s}");
    assert!(
        stderr.contains("giving up after 4 failures within 300 ms of running time"),
        "{stderr}"
    );
    assert_eq!(s["plugins"]["healthy"]["gave_up"], false);
    assert_complete(&healthy_topic, 2_000);
}

#[test]
fn a_transform_that_traps_on_every_start_is_given_up_on_and_its_batch_counted() {
    let dir = Scratch::new("backoff-window-transform");
    let topic = unique_topic("backoff-window-transform");
    let config = format!(
        "{}transforms = [\"crashy\"]\n\n[[transform]]\nname = \"crashy\"\nwasm = \"{}\"\n\
         [runtime]\nrestart_backoff_ms = 100\nrestart_backoff_max_ms = 400\nrestart_window_ms = 300\nmax_restarts = 3\n",
        healthy_datagen("gen", &topic, 1_000).replace("[source.config]\ncount = 1000\n", ""),
        artifacts::TEST_TRAP_ON_INIT,
    );
    let (s, stderr) = run_ok(&dir, &config);
    assert_eq!(s["plugins"]["crashy"]["gave_up"], true, "{s}\n{stderr}");
    assert_eq!(counter(&s, "crashy", "restarts"), 3, "{s}");
    assert!(
        stderr.contains("giving up after 4 failures within 300 ms of running time"),
        "{stderr}"
    );
    let failed = counter(&s, "gen", "failed");
    assert!(failed > 0, "{s}");
    assert_eq!(failed, counter(&s, "gen", "records_in"), "{s}");
    assert!(
        s["plugins"]["gen"]["failures"]
            .to_string()
            .contains("transform `crashy` was given up on: plugin failed: setup trapped"),
        "{s}"
    );
}
