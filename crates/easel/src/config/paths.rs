//! Platform folders. Clients start servers with odd working directories, so no default is
//! ever relative to the current directory.

use std::path::{Path, PathBuf};

use directories::{ProjectDirs, UserDirs};

use super::ConfigError;

fn project() -> Option<ProjectDirs> {
    ProjectDirs::from("", "", "easel")
}

/// `~/.config/easel/easel.toml` on Linux, the matching folder elsewhere.
pub fn default_config_file() -> Result<PathBuf, ConfigError> {
    project()
        .map(|p| p.config_dir().join("easel.toml"))
        .ok_or(ConfigError::NoHome {
            what: "configuration file",
            env: "EASEL_CONFIG",
        })
}

/// The user's pictures folder + `easel`, else the data folder + `images`.
pub fn default_output_dir() -> Result<PathBuf, ConfigError> {
    if let Some(pictures) = UserDirs::new().and_then(|u| u.picture_dir().map(Path::to_path_buf)) {
        return Ok(pictures.join("easel"));
    }
    project()
        .map(|p| p.data_dir().join("images"))
        .ok_or(ConfigError::NoHome {
            what: "output folder",
            env: "EASEL_OUTPUT_DIR",
        })
}

/// `~/.local/share/easel` on Linux, the matching folder elsewhere.
pub fn default_data_dir() -> Result<PathBuf, ConfigError> {
    project()
        .map(|p| p.data_dir().to_path_buf())
        .ok_or(ConfigError::NoHome {
            what: "data folder",
            env: "EASEL_DATA_DIR",
        })
}

/// Expands a leading `~/` (and `~\` on Windows, or a lone `~`) so that paths written by hand
/// in TOML or env work.
pub fn expand_home(raw: &str) -> PathBuf {
    if let Some(rest) = home_relative(raw, cfg!(windows))
        && let Some(home) = UserDirs::new().map(|u| u.home_dir().to_path_buf())
    {
        return if rest.is_empty() {
            home
        } else {
            home.join(rest)
        };
    }
    PathBuf::from(raw)
}

/// What follows `~` and a separator, if `raw` starts so. `\` is a separator only on Windows:
/// elsewhere `~\x` is a file name like any other.
fn home_relative(raw: &str, backslash_separates: bool) -> Option<&str> {
    if raw == "~" {
        return Some("");
    }
    raw.strip_prefix("~/").or_else(|| {
        backslash_separates
            .then(|| raw.strip_prefix("~\\"))
            .flatten()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn home_prefixes_follow_the_platform_separators() {
        assert_eq!(
            home_relative("~/Pictures/easel", false),
            Some("Pictures/easel")
        );
        assert_eq!(home_relative("~", false), Some(""));
        assert_eq!(home_relative("~\\Pictures", false), None);
        assert_eq!(home_relative("~\\Pictures", true), Some("Pictures"));
        assert_eq!(
            home_relative("~user/x", true),
            None,
            "no other users' homes"
        );
        assert_eq!(home_relative("/abs/~/x", true), None);
        assert_eq!(home_relative("C:\\Users\\me", true), None);
    }

    #[test]
    fn expanded_paths_leave_the_rest_untouched() {
        assert_eq!(expand_home("/srv/easel"), PathBuf::from("/srv/easel"));
        if let Some(home) = UserDirs::new().map(|u| u.home_dir().to_path_buf()) {
            assert_eq!(expand_home("~"), home);
            assert_eq!(expand_home("~/Pictures"), home.join("Pictures"));
        }
    }
}
