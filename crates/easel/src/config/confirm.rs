//! The `[confirm]` section: when easel asks the user before spending a paid quota or
//! publishing, and how long it waits for the answer. Off for unattended use (scripts, CI).

use std::time::Duration;

use serde::Deserialize;

use super::ConfigError;
use super::http::Flag;
use super::settings::{Resolver, plain, secs};
use super::table::{Row, any};

/// The `[confirm]` table of the configuration file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfirmFile {
    /// Ask before publishing and before large paid generations (default true).
    pub enabled: Option<bool>,
    /// Paid images one call may make without asking (default 4; 0 asks for every one).
    pub spend_threshold: Option<u32>,
    /// How long to wait for the user's answer to a confirmation form.
    pub timeout_secs: Option<u64>,
}

/// When easel asks before acting.
#[derive(Clone, Debug)]
pub struct ConfirmSettings {
    pub enabled: bool,
    /// A generation of more paid images than this asks first.
    pub spend_threshold: u32,
    /// Waiting for an answer to an elicitation form; unanswered means nothing happens.
    pub timeout: Duration,
}

impl Default for ConfirmSettings {
    fn default() -> Self {
        ConfirmSettings {
            enabled: true,
            // One call of up to four images (generate_image's usual count) goes through
            // unasked; a batch or a count of 5-8 asks.
            spend_threshold: 4,
            // Long enough for a person to read the form, short enough that an
            // unattended client does not hold the call for ever.
            timeout: Duration::from_secs(120),
        }
    }
}

const ENABLED: Row<ConfirmFile, Flag> = Row {
    key: "confirm.enabled",
    env: &["EASEL_CONFIRM"],
    file: |f| f.enabled.map(Flag),
    default: || Ok(Flag(ConfirmSettings::default().enabled)),
    show: |f| plain(&f.0),
    check: any,
};
const SPEND_THRESHOLD: Row<ConfirmFile, u32> = Row {
    key: "confirm.spend_threshold",
    env: &["EASEL_CONFIRM_SPEND_THRESHOLD"],
    file: |f| f.spend_threshold,
    default: || Ok(ConfirmSettings::default().spend_threshold),
    show: |v| format!("{v} paid image(s)"),
    check: any,
};
const TIMEOUT_SECS: Row<ConfirmFile, u64> = Row {
    key: "confirm.timeout_secs",
    env: &["EASEL_CONFIRM_TIMEOUT_SECS"],
    file: |f| f.timeout_secs,
    default: || Ok(ConfirmSettings::default().timeout.as_secs()),
    show: secs,
    check: |v| {
        match v {
        0 => Err("0 would decline every confirmation before the user sees it; use 1 or more (seconds), or set confirm.enabled = false to stop asking".into()),
        _ => Ok(v),
    }
    },
};

pub(super) fn resolve(
    r: &mut Resolver<'_>,
    file: ConfirmFile,
) -> Result<ConfirmSettings, ConfigError> {
    let enabled = r.get(&ENABLED, &file)?.0;
    let spend_threshold = r.get(&SPEND_THRESHOLD, &file)?;
    let timeout_secs = r.get(&TIMEOUT_SECS, &file)?;
    Ok(ConfirmSettings {
        enabled,
        spend_threshold,
        timeout: Duration::from_secs(timeout_secs),
    })
}

#[cfg(test)]
mod tests {
    use crate::config::testing::load;
    use std::time::Duration;

    #[test]
    fn defaults_ask_file_and_env_override() {
        let c = load("", &[]).expect("config");
        assert!(c.confirm.enabled);
        assert_eq!(c.confirm.spend_threshold, 4);
        let c = load(
            "[confirm]\nspend_threshold = 10\ntimeout_secs = 30\n",
            &[("EASEL_CONFIRM", "off")],
        )
        .expect("config");
        assert!(!c.confirm.enabled);
        assert_eq!(c.confirm.spend_threshold, 10);
        assert_eq!(c.confirm.timeout, Duration::from_secs(30));
    }

    #[test]
    fn bad_values_name_the_key_and_the_fix() {
        let e = load("", &[("EASEL_CONFIRM", "maybe")]).expect_err("bad flag");
        assert!(e.to_string().contains("EASEL_CONFIRM"), "{e}");
        let e = load("[confirm]\ntimeout_secs = 0\n", &[]).expect_err("zero");
        let text = e.to_string();
        assert!(text.contains("confirm.timeout_secs"), "{text}");
        assert!(text.contains("confirm.enabled = false"), "{text}");
    }
}
