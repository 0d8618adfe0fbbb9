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

/// Expands a leading `~/` so that paths written by hand in TOML or env work.
pub fn expand_home(raw: &str) -> PathBuf {
    if let Some(rest) = raw.strip_prefix("~/")
        && let Some(home) = UserDirs::new().map(|u| u.home_dir().to_path_buf())
    {
        return home.join(rest);
    }
    PathBuf::from(raw)
}
