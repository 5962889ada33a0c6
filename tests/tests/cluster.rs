//! Hosts sharing sources through Kafka's group protocol, as separate
//! `streamplug run` processes against the real broker: 12 sources (three
//! exactly-once), each record's `seq` and make time read back per source.

/// Named `cluster_hosts::…`: `tests/run.sh` runs them apart, on a broker of
/// their own.
mod cluster_hosts {
    use std::collections::{BTreeMap, BTreeSet};
    use std::time::Duration;
    use streamplug_tests::cluster::Host;

    use streamplug_tests::artifacts;
    use streamplug_tests::cluster::{
        BATCH_INTERVAL_MS, Group, SESSION_MS, SOURCES, longest_gap, now_ms, source_name, stop,
    };
    use streamplug_tests::{sigterm, streamplug, wait_with_limit};

    #[test]
    fn kill_9_of_a_host_moves_its_sources_within_the_session_timeout() {
        let _serial = one_at_a_time();
        let g = Group::new("cl-kill");
        let h1 = g.start("h1");
        let h2 = g.start("h2");
        let mut h3 = g.start("h3");
        let spread = g.wait_until_spread(&["h1", "h2", "h3"], Duration::from_secs(90));
        std::thread::sleep(Duration::from_secs(2));
        let killed_at = now_ms();
        h3.kill().expect("kill -9");
        h3.wait().expect("wait");
        let moved = spread["h3"].clone();
        assert!(!moved.is_empty(), "h3 ran nothing: {spread:?}");
        g.wait_until_spread(&["h1", "h2"], Duration::from_secs(60));
        std::thread::sleep(Duration::from_secs(2));
        stop(&mut [("h1", h1), ("h2", h2)]);

        for name in &moved {
            let i: usize = name[1..].parse().expect("source index");
            let first_after = g
                .records(i)
                .iter()
                .filter_map(|r| r.timestamp)
                .filter(|t| *t > killed_at)
                .min()
                .unwrap_or_else(|| panic!("{name}: no record after the kill"));
            let failover = first_after - killed_at;
            eprintln!("{name}: ran again {failover} ms after the kill");
            assert!(
                failover <= SESSION_MS as i64 + 5_000,
                "{name}: {failover} ms after the kill"
            );
        }
        g.assert_nothing_lost();
    }

    #[test]
    fn a_fourth_host_takes_some_sources_and_the_others_do_not_pause() {
        let _serial = one_at_a_time();
        let g = Group::new("cl-join");
        let h1 = g.start("h1");
        let h2 = g.start("h2");
        let h3 = g.start("h3");
        let before = g.wait_until_spread(&["h1", "h2", "h3"], Duration::from_secs(90));
        let generation_before = g.generation();
        std::thread::sleep(Duration::from_secs(2));
        let joined_at = now_ms();
        let h4 = g.start("h4");
        let after = g.wait_until_spread(&["h1", "h2", "h3", "h4"], Duration::from_secs(60));
        let settled_at = now_ms();
        // The join is a rebalance: every host moves to a newer generation.
        let generation_after = g.generation();
        assert!(
            generation_after > generation_before,
            "generation {generation_before} → {generation_after}"
        );
        std::thread::sleep(Duration::from_secs(2));
        stop(&mut [("h1", h1), ("h2", h2), ("h3", h3), ("h4", h4)]);

        assert!(!after["h4"].is_empty(), "h4 took nothing: {after:?}");
        let owner = |m: &BTreeMap<String, BTreeSet<String>>, s: &str| {
            m.iter()
                .find(|(_, v)| v.contains(s))
                .map(|(h, _)| h.clone())
        };
        for i in 0..SOURCES {
            let name = source_name(i);
            let gap = longest_gap(&g.records(i), (joined_at, settled_at));
            let moved = owner(&before, &name) != owner(&after, &name);
            eprintln!("{name}: moved {moved}, longest gap while h4 joined {gap} ms");
            if !moved {
                // One batch interval, plus scheduling slack on a loaded 2-core machine.
                assert!(
                    gap <= BATCH_INTERVAL_MS + 500,
                    "{name} did not move but paused {gap} ms"
                );
            }
        }
        let s4 = g.summary("h4");
        assert!(
            !s4["cluster"]["sources_run"]
                .as_array()
                .expect("sources_run")
                .is_empty(),
            "{s4}"
        );
        g.assert_nothing_lost();
    }

    #[test]
    fn a_rolling_restart_under_load_loses_nothing() {
        let _serial = one_at_a_time();
        let g = Group::new("cl-roll");
        let mut hosts: Vec<(&str, Host)> = ["h1", "h2", "h3"]
            .iter()
            .map(|h| (*h, g.start(h)))
            .collect();
        g.wait_until_spread(&["h1", "h2", "h3"], Duration::from_secs(90));
        for (name, child) in hosts.iter_mut() {
            sigterm(child);
            let status = wait_with_limit(child, Duration::from_secs(90));
            assert!(status.success(), "{name}: {status}\n{}", g.log(name));
            *child = g.start(name);
            g.wait_until_spread(&["h1", "h2", "h3"], Duration::from_secs(90));
            std::thread::sleep(Duration::from_secs(1));
        }
        stop(&mut hosts);
        g.assert_nothing_lost();
    }

    #[test]
    fn a_reload_on_every_host_moves_the_group_to_the_new_config_without_loss() {
        let _serial = one_at_a_time();
        let g = Group::new("cl-reload");
        let names = ["h1", "h2", "h3"];
        let mut hosts: Vec<(&str, Host)> = names.iter().map(|h| (*h, g.start(h))).collect();
        g.wait_until_spread(&names, Duration::from_secs(90));

        // The new config adds a 13th source. Hosts are reloaded one after
        // another, as a rollout would: while one host runs the new config,
        // the others step aside and their sources move to it.
        g.set_sources(SOURCES + 1);
        g.rewrite_config("h1");
        // How soon the others see h1's announcement depends on the load
        // (CI once took more than 4 s): wait for it rather than guess.
        for h in ["h2", "h3"] {
            g.wait_for_log(h, "runs a newer config", Duration::from_secs(60));
        }
        for h in ["h2", "h3"] {
            g.rewrite_config(h);
            std::thread::sleep(Duration::from_secs(4));
        }
        let after = g.wait_until_spread(&names, Duration::from_secs(90));
        std::thread::sleep(Duration::from_secs(2));
        stop(&mut hosts);
        eprintln!("after the reload: {after:?}");
        let added = g.records(SOURCES);
        assert!(!added.is_empty(), "the added source made no records");
        g.assert_nothing_lost();
    }

    /// One cluster at a time: each test runs up to four hosts of 12 sources on
    /// a 2-core machine.
    static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

    fn one_at_a_time() -> std::sync::MutexGuard<'static, ()> {
        ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn refused(g: &Group, host: &str, config: &str) -> String {
        let path = g.write_config(host, config);
        let out = streamplug().arg("run").arg(&path).output().expect("run");
        assert!(!out.status.success(), "{host} was not refused");
        String::from_utf8_lossy(&out.stderr).into_owned()
    }

    #[test]
    fn a_host_whose_config_or_plugin_differs_is_refused_with_the_difference_named() {
        let _serial = one_at_a_time();
        let g = Group::new("cl-differs");
        let h1 = g.start("h1");
        g.wait_until_spread(&["h1"], Duration::from_secs(90));

        let err = refused(&g, "h2", &g.config("h2", Some(5)));
        assert!(err.contains("source `s05` differs"), "{err}");
        assert!(err.contains("host `h1`"), "{err}");

        // The same config text, but h2's plugin file has other bytes (a custom
        // section appended: still a valid component).
        let mut bytes = std::fs::read(artifacts::DATAGEN).expect("datagen");
        bytes.extend([0x00, 0x05, 0x04, b't', b'e', b's', b't']);
        std::fs::write(g.host_dir("h2").join("datagen.wasm"), bytes).expect("write");
        let err = refused(&g, "h2", &g.config("h2", None));
        assert!(
            err.contains("a plugin file of source `s00` differs"),
            "{err}"
        );

        let err = refused(&g, "h1", &g.config("h1", None));
        assert!(
            err.contains("host id `h1` is already a live member"),
            "{err}"
        );

        stop(&mut [("h1", h1)]);
    }

    #[test]
    fn cluster_mode_needs_the_kafka_checkpoint_store() {
        let _serial = one_at_a_time();
        let g = Group::new("cl-store");
        let config = g
            .config("h1", None)
            .replace("store = \"kafka\"", "store = \"file\"\ndir = \"/tmp\"")
            .replace("exactly_once", "at_least_once");
        let err = refused(&g, "h1", &config);
        assert!(
            err.contains("[cluster] needs `[checkpoints]` with `store = \"kafka\"`"),
            "{err}"
        );
    }
}
