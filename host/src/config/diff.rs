//! What a new config changes, pipeline by pipeline: the least that must be
//! done to apply it, so that unaffected pipelines are not touched.
//!
//! Configs are compared as TOML values (positions and formatting do not
//! count). Per source:
//! - only its `quota` (or its tenant's) differs: the quota is changed in place;
//! - a plugin's `wasm`, `config`, `limits` or `capabilities` differ: that
//!   plugin is swapped in place, like a new file;
//! - anything else about its pipeline differs (topic, transforms, caps, ...):
//!   the pipeline is drained and started again from its checkpoint.

use std::collections::BTreeSet;

use toml::{Table, Value};

use crate::config::Config;

/// Fields a plugin swap can apply without rebuilding the pipeline.
const PLUGIN_FIELDS: [&str; 4] = ["wasm", "config", "limits", "capabilities"];

#[derive(Debug, Default, PartialEq, Eq)]
pub struct Plan {
    pub add: Vec<String>,
    pub remove: Vec<String>,
    /// Reshaped: drained, then started again from their checkpoint.
    pub restart: Vec<String>,
    /// Plugins to swap in place with their new settings.
    pub respec: BTreeSet<String>,
    pub source_quotas: Vec<String>,
    pub tenant_quotas: Vec<String>,
}

impl Plan {
    pub fn is_empty(&self) -> bool {
        *self == Plan::default()
    }
}

/// The plan that turns `old` into `new`, or why it cannot be applied live.
pub fn plan(old: &Config, new: &Config) -> Result<Plan, String> {
    for table in ["kafka", "runtime", "cluster", "schema_registry", "admin"] {
        if old.raw.get(table) != new.raw.get(table) {
            return Err(format!(
                "[{table}] changed: that needs a restart of streamplug"
            ));
        }
    }
    let mut plan = Plan::default();
    for s in &new.sources {
        let name = s.name.get_ref();
        if old.source(name).is_none() {
            plan.add.push(name.clone());
            continue;
        }
        if shape(old, name) != shape(new, name) {
            plan.restart.push(name.clone());
            continue;
        }
        for plugin in plugins_of(new, name) {
            if plugin_fields(old, &plugin) != plugin_fields(new, &plugin) {
                plan.respec.insert(plugin);
            }
        }
        if entry(old, "source", name).and_then(|t| t.get("quota"))
            != entry(new, "source", name).and_then(|t| t.get("quota"))
        {
            plan.source_quotas.push(name.clone());
        }
    }
    for s in &old.sources {
        if new.source(s.name.get_ref()).is_none() {
            plan.remove.push(s.name.get_ref().clone());
        }
    }
    for t in &new.tenants {
        let name = t.name.get_ref();
        let quota = |c: &Config| {
            entry(c, "tenant", name)
                .and_then(|t| t.get("quota"))
                .cloned()
        };
        if old.tenant(name).is_some() && quota(old) != quota(new) {
            plan.tenant_quotas.push(name.clone());
        }
    }
    Ok(plan)
}

/// The `[[kind]]` table named `name`.
fn entry<'a>(config: &'a Config, kind: &str, name: &str) -> Option<&'a Table> {
    config
        .raw
        .get(kind)?
        .as_array()?
        .iter()
        .filter_map(Value::as_table)
        .find(|t| t.get("name").and_then(Value::as_str) == Some(name))
}

fn without(table: Option<&Table>, fields: &[&str]) -> Value {
    let mut t = table.cloned().unwrap_or_default();
    for f in fields {
        t.remove(*f);
    }
    Value::Table(t)
}

/// Everything the config says about a source's pipeline, as written: its
/// table, its transforms' and partitioner's, its tenant's. What hosts of a
/// cluster compare (see `cluster::digest`).
pub fn pipeline_tables(config: &Config, source: &str) -> Vec<Value> {
    let mut out: Vec<Value> = plugins_of(config, source)
        .iter()
        .map(|p| {
            let t = entry(config, "source", p)
                .or_else(|| entry(config, "transform", p))
                .or_else(|| entry(config, "partitioner", p));
            without(t, &[])
        })
        .collect();
    if let Some(t) = config.source(source).and_then(|s| config.tenant_of(s)) {
        out.push(without(entry(config, "tenant", t.name.get_ref()), &[]));
    }
    out
}

/// Source, transform and partitioner names of a source's pipeline.
pub fn plugins_of(config: &Config, source: &str) -> Vec<String> {
    let Some(s) = config.source(source) else {
        return Vec::new();
    };
    let mut names = vec![source.to_string()];
    names.extend(s.transforms.get_ref().iter().cloned());
    names.extend(s.partitioner.as_ref().map(|p| p.get_ref().clone()));
    names
}

/// Everything about a source's pipeline except what can change in place.
fn shape(config: &Config, source: &str) -> Vec<Value> {
    let mut fields: Vec<&str> = PLUGIN_FIELDS.to_vec();
    fields.push("quota");
    let mut out = vec![without(entry(config, "source", source), &fields)];
    for p in plugins_of(config, source).iter().skip(1) {
        let table = entry(config, "transform", p).or_else(|| entry(config, "partitioner", p));
        out.push(without(table, &PLUGIN_FIELDS));
    }
    if let Some(t) = config.source(source).and_then(|s| config.tenant_of(s)) {
        out.push(without(
            entry(config, "tenant", t.name.get_ref()),
            &["quota"],
        ));
    }
    out
}

fn plugin_fields(config: &Config, plugin: &str) -> Vec<Option<Value>> {
    let table = entry(config, "source", plugin)
        .or_else(|| entry(config, "transform", plugin))
        .or_else(|| entry(config, "partitioner", plugin));
    PLUGIN_FIELDS
        .iter()
        .map(|f| table.and_then(|t| t.get(*f)).cloned())
        .collect()
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    /// Parses `text` with `/dev/null` standing for a plugin file that exists
    /// (the plan never reads plugin files).
    fn config(text: &str) -> Config {
        let plugin = std::env::temp_dir().join("streamplug-diff-plugin.wasm");
        std::fs::write(&plugin, b"").expect("temp file");
        let text = text.replace("/dev/null", &plugin.display().to_string());
        Config::parse(&text, Path::new("/tmp/streamplug-diff.toml")).expect("valid config")
    }

    const BASE: &str = r#"
[kafka]
brokers = "127.0.0.1:9092"

[[tenant]]
name = "t"
topics = ["a", "b", "c"]
quota = { records_per_second = 100 }

[[source]]
name = "a"
tenant = "t"
wasm = "/dev/null"
topic = "a"
transforms = ["mark"]
[source.config]
count = 10

[[source]]
name = "b"
tenant = "t"
wasm = "/dev/null"
topic = "b"

[[transform]]
name = "mark"
tenant = "t"
wasm = "/dev/null"
"#;

    #[test]
    fn an_unchanged_config_plans_nothing_even_reformatted() {
        let reformatted = BASE.replace("count = 10", "count   =   10 # same");
        assert!(
            plan(&config(BASE), &config(&reformatted))
                .unwrap()
                .is_empty()
        );
    }

    #[test]
    fn each_kind_of_change_touches_only_what_it_must() {
        let new = BASE
            .replace("count = 10", "count = 20")
            .replace(
                "topic = \"b\"",
                "topic = \"b\"\nquota = { records_per_second = 5 }",
            )
            .replace(
                "quota = { records_per_second = 100 }",
                "quota = { records_per_second = 200 }",
            )
            + "\n[[source]]\nname = \"c\"\ntenant = \"t\"\nwasm = \"/dev/null\"\ntopic = \"c\"\n";
        let p = plan(&config(BASE), &config(&new)).unwrap();
        assert_eq!(p.add, ["c"]);
        assert_eq!(p.respec, BTreeSet::from(["a".to_string()]));
        assert_eq!(p.source_quotas, ["b"]);
        assert_eq!(p.tenant_quotas, ["t"]);
        assert!(p.restart.is_empty() && p.remove.is_empty(), "{p:?}");
    }

    #[test]
    fn a_new_shape_restarts_and_a_missing_source_is_removed() {
        let new = BASE
            .replace(
                "topic = \"a\"\ntransforms = [\"mark\"]",
                "topic = \"c\"\ntransforms = [\"mark\"]",
            )
            .replace(
                "[[source]]\nname = \"b\"\ntenant = \"t\"\nwasm = \"/dev/null\"\ntopic = \"b\"\n",
                "",
            );
        let p = plan(&config(BASE), &config(&new)).unwrap();
        assert_eq!(p.restart, ["a"]);
        assert_eq!(p.remove, ["b"]);
    }

    #[test]
    fn kafka_settings_need_a_restart() {
        let new = BASE.replace(
            "brokers = \"127.0.0.1:9092\"",
            "brokers = \"127.0.0.1:9093\"",
        );
        let e = plan(&config(BASE), &config(&new)).unwrap_err();
        assert_eq!(e, "[kafka] changed: that needs a restart of streamplug");
    }
}
