//! A setting declared as one row: its key (in the TOML file and in `easel config`), the
//! environment variables that override it (the first one set wins), where the file keeps it,
//! its default, how `easel config` shows it, and a check on the value chosen. Resolving a
//! row is [`Resolver::get`]: environment, else file, else default, remembering the source.

use std::fmt;
use std::str::FromStr;

use super::ConfigError;
use super::settings::Resolver;

/// One setting read from the file section `F` as a `T`.
pub(super) struct Row<F, T> {
    pub key: &'static str,
    pub env: &'static [&'static str],
    pub file: fn(&F) -> Option<T>,
    pub default: fn() -> Result<T, ConfigError>,
    pub show: fn(&T) -> String,
    /// Refuses (with the reason and the fix) or adjusts the value chosen, whatever its source.
    pub check: fn(T) -> Result<T, String>,
}

/// The check of a row that takes any value its type can hold.
pub(super) fn any<T>(v: T) -> Result<T, String> {
    Ok(v)
}

impl Resolver<'_> {
    /// The value of `row` for the file section `file`; an error names the key, the source
    /// and the reason.
    pub(super) fn get<F, T>(&mut self, row: &Row<F, T>, file: &F) -> Result<T, ConfigError>
    where
        T: FromStr,
        T::Err: fmt::Display,
    {
        let value = self.pick(row.key, row.env, (row.file)(file), row.default, row.show)?;
        (row.check)(value).map_err(|message| ConfigError::Value {
            key: row.key.to_string(),
            origin: self.last_source(),
            message,
        })
    }
}
