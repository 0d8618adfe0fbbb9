//! Loading a configuration from TOML text and an environment, for the config modules' tests.

use std::collections::HashMap;

use super::{Config, ConfigError};

/// The configuration `toml` (written to a temporary `easel.toml`) and `env` give.
pub fn load(toml: &str, env: &[(&str, &str)]) -> Result<Config, ConfigError> {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("easel.toml");
    std::fs::write(&path, toml).expect("write");
    let env: HashMap<String, String> = env
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    Config::load_with(Some(&path), &|k| env.get(k).cloned())
}
