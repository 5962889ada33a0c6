//! `streamplug run`: load every plugin, connect to Kafka, hand the sources
//! to the supervisor, apply reloads until the sources finish or a signal
//! arrives, then flush and summarise.

mod connect;
mod signals;
mod tls_probe;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};

use crate::cluster::Member;
use crate::config::Config;
use crate::engine::{self, EpochTicker};
use crate::pipeline::Stop;
use crate::plugin::{LoadedPlugin, Loader};
use crate::producer::topics;
use crate::reload::{Controls, Reloader, reload_on_sighup};
use crate::stats::Summary;
use crate::status::LiveStatus;
use crate::supervisor::{Resources, Supervisor};
pub use connect::Interrupted;

/// Runs a configuration until its sources finish or SIGINT/SIGTERM arrives,
/// and returns its summary.
pub fn run(config: &Config) -> Result<Summary> {
    run_until(config, Arc::new(Stop::default()), true)
}

/// Runs a configuration until its sources finish or `stop` is raised (by
/// the caller, or by SIGINT/SIGTERM if `on_signals`), and returns its summary.
pub fn run_until(config: &Config, stop: Arc<Stop>, on_signals: bool) -> Result<Summary> {
    run_with(config, stop, Arc::new(Controls::default()), on_signals)
}

/// As [`run`], showing the sources' status while running unless `quiet`
/// (see [`crate::status`]).
/// `status`: how often plain status lines are logged when stderr is not a
/// terminal; `None` (`--quiet`) shows no status at all.
pub fn run_shown(config: &Config, status: Option<Duration>) -> Result<Summary> {
    run_showing(
        config,
        Arc::new(Stop::default()),
        Arc::new(Controls::default()),
        true,
        status,
    )
}

/// As [`run_until`], with `controls` to ask for reloads from outside.
pub fn run_with(
    config: &Config,
    stop: Arc<Stop>,
    controls: Arc<Controls>,
    on_signals: bool,
) -> Result<Summary> {
    run_showing(config, stop, controls, on_signals, None)
}

fn run_showing(
    config: &Config,
    stop: Arc<Stop>,
    controls: Arc<Controls>,
    on_signals: bool,
    status_every: Option<Duration>,
) -> Result<Summary> {
    let started = Instant::now();
    let async_rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    // First, so that Ctrl-C works while plugins compile and Kafka is awaited.
    if on_signals {
        signals::stop_on_signal(&async_rt, stop.clone());
        async_rt.spawn(reload_on_sighup(controls.clone()));
    }

    let engine = engine::build_with(
        config
            .runtime
            .pooling_allocator
            .then_some(config.runtime.max_instances),
    )?;
    let _ticker = EpochTicker::start(&engine)?;
    let loader = Loader::new(&engine, config.runtime.cache_dir.clone())?;
    let plugins = load_plugins(config, &loader)?;

    let specs = topics::specs(config);
    let (kafka, topics) = connect::connect(config, &specs, &stop, async_rt.handle().clone())?;
    let resources = Resources::new(
        config,
        engine,
        kafka.producer.clone(),
        &kafka.client,
        topics,
    )?;
    let supervisor = Arc::new(Supervisor::new(config.clone(), plugins.clone(), resources));
    let admin = config
        .resolved_admin
        .as_ref()
        .map(|a| crate::admin::start(async_rt.handle(), a, &supervisor, controls.clone()))
        .transpose()?;
    let member = start(config, &supervisor, &kafka.client)?;
    let status = status_every
        .map(|every| LiveStatus::start(&supervisor, every))
        .transpose()
        .context("cannot start the status display")?;

    let mut reloader = Reloader::new(config, plugins, loader, &controls)?;
    // Until every source has finished or a stop is raised: apply reloads.
    while !stop.is_raised() && supervisor.is_active() {
        if let Some(requested) = controls.wait_for_reload(&stop, Duration::from_millis(100)) {
            reloader.reload(&supervisor, requested);
        }
    }
    drop(reloader);
    if let Some(status) = status {
        status.stop();
    }
    // No operator request may arrive while the pipelines shut down.
    if let Some(admin) = admin {
        admin.stop();
    }
    // Leaving the group drains this host's sources before they move.
    let cluster = member.map(Member::leave);
    let supervisor = Arc::into_inner(supervisor)
        .context("internal error: the supervisor is still shared at shutdown")?;
    let mut summary = supervisor.shutdown(kafka.embedded.is_some(), started);
    summary.cluster = cluster;
    // Every client is gone now; the embedded cluster (if any) goes last.
    drop(kafka);
    Ok(summary)
}

/// Starts every source, or in a cluster, joins the group and runs the
/// sources it assigns to this host.
fn start(
    config: &Config,
    supervisor: &Arc<Supervisor>,
    client: &crate::producer::settings::ClientSettings,
) -> Result<Option<Member>> {
    match &config.cluster {
        None => {
            let running = supervisor.start()?;
            eprintln!("streamplug: running {running} source(s); Ctrl-C stops");
            Ok(None)
        }
        Some(c) => {
            let member = Member::join(c, supervisor.clone(), client)?;
            eprintln!(
                "streamplug: joined cluster group `{}` as host `{}`; this host runs the sources the group assigns it; Ctrl-C stops",
                c.group,
                c.host_id()
            );
            Ok(Some(member))
        }
    }
}

fn load_plugins(config: &Config, loader: &Loader) -> Result<HashMap<String, Arc<LoadedPlugin>>> {
    config
        .plugin_files()
        .into_iter()
        .map(|(name, path, world)| {
            let loaded = loader.load_as(&name, &path, world)?;
            Ok((name, loaded))
        })
        .collect()
}
