//! Path forms, so that "inside the output root" means the same on every OS.
//!
//! On Windows `std::fs::canonicalize` returns verbatim paths (`\\?\C:\Users\me\Pictures\easel`,
//! `\\?\UNC\server\share\x`), while people, configuration files and clients write
//! `C:\Users\me\…`, in any case and with either separator. A verbatim path is also taken
//! literally by Windows: `/` is not a separator in it, so joining a caller's `cats/a.png` onto a
//! verbatim root names a file called `a.png` in a folder called `cats/`… that does not exist.
//! The Windows rules are plain text logic here, compiled and tested on every OS; the
//! `cfg(windows)` adapters at the end pick them up only where they apply.

// Elsewhere only the tests call the Windows text rules; they are compiled on every OS so that
// every CI run checks them.
#![cfg_attr(not(windows), allow(dead_code))]

use std::borrow::Cow;
use std::path::{Component, Path, PathBuf};

use super::names::windows_device_name;

/// Longest path Win32 functions accept without the verbatim prefix (MAX_PATH, 260 UTF-16 units
/// including the terminating NUL).
const MAX_PATH_UNITS: usize = 259;

/// Windows path text without its verbatim prefix: `\\?\C:\x` → `C:\x`, `\\?\UNC\srv\s\x` →
/// `\\srv\s\x`; anything else unchanged. For comparing, not for opening: the shorter form can
/// name another file when a component is a device name or ends with a dot (see
/// [`plain_disk_form`]).
pub(crate) fn strip_verbatim(s: &str) -> Cow<'_, str> {
    if let Some(rest) = s.strip_prefix(r"\\?\") {
        if let Some(unc) = rest
            .strip_prefix(r"UNC\")
            .or_else(|| rest.strip_prefix(r"unc\"))
        {
            return Cow::Owned(format!(r"\\{unc}"));
        }
        if is_drive(rest) {
            return Cow::Borrowed(rest);
        }
    }
    Cow::Borrowed(s)
}

/// `C:` (or `C:\…`): a drive letter and a colon.
fn is_drive(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() >= 2 && b[0].is_ascii_alphabetic() && b[1] == b':' && (b.len() == 2 || b[2] == b'\\')
}

/// `\\?\C:\…` written as `C:\…` when Windows reads both as the same path (what people expect to
/// see in a result, and what other programs accept), else `None`. Like the `dunce` crate: only
/// drive paths (a verbatim UNC path stays as it is), shorter than MAX_PATH, without
/// components Win32 would rewrite (`.`, `..`, trailing dots or spaces, device names such as
/// `NUL` or `COM1.txt`) or characters it forbids.
pub(crate) fn plain_disk_form(s: &str) -> Option<&str> {
    let rest = s.strip_prefix(r"\\?\")?;
    if !is_drive(rest) || rest.encode_utf16().count() > MAX_PATH_UNITS {
        return None;
    }
    // "C:" alone is the current folder on drive C, not its root: keep "\\?\C:" verbatim.
    let tail = rest.get(3..)?;
    if tail.is_empty() {
        return Some(rest);
    }
    let plain = tail.split('\\').all(|part| {
        !part.is_empty()
            && part != "."
            && part != ".."
            && !part.ends_with(['.', ' '])
            && !part.chars().any(|c| {
                c.is_control() || matches!(c, '/' | ':' | '*' | '?' | '"' | '<' | '>' | '|')
            })
            && windows_device_name(part).is_none()
    });
    plain.then_some(rest)
}

/// Whether Windows path text `path` is `root` or lies beneath it, whichever of the verbatim and
/// plain forms and separators each is written in. `fold_case` compares ASCII letters without
/// case, as NTFS does by default; it is for text a person wrote, never for canonical paths
/// (folders can be made case-sensitive, and canonical paths carry the real case anyway). A
/// `..` component in `path` answers no: this is a lexical check and cannot know where it goes.
pub(crate) fn windows_within(path: &str, root: &str, fold_case: bool) -> bool {
    let path = strip_verbatim(path);
    let root = strip_verbatim(root);
    let parts = |s: &str| -> Vec<String> {
        // The prefix ("C:" or "\\server\share") is kept as a leading marker so that "C:\x" and
        // "\x" or "D:\x" never compare equal.
        let unc = s.starts_with(r"\\") || s.starts_with("//");
        let mut out: Vec<String> = s
            .split(['\\', '/'])
            .filter(|p| !p.is_empty() && *p != ".")
            .map(str::to_owned)
            .collect();
        if unc {
            out.insert(0, r"\\".to_owned());
        }
        out
    };
    let (path, root) = (parts(&path), parts(&root));
    if path.iter().any(|p| p == "..") || root.is_empty() || path.len() < root.len() {
        return false;
    }
    path.iter().zip(&root).all(|(a, b)| {
        if fold_case {
            a.eq_ignore_ascii_case(b)
        } else {
            // Drive letters are case-less even in canonical paths ("c:" from a config file).
            a == b || (is_drive(a) && a.len() == 2 && a.eq_ignore_ascii_case(b))
        }
    })
}

/// `base` with a caller's relative path `rel` added one component at a time, taking both `/`
/// and `\` as separators and skipping empty and `.` components, so that `cats/a.png` and
/// `cats\a.png` name the same file on every OS, and a verbatim `base` stays valid on Windows.
/// `rel` must have passed [`super::validate_relative_dir`] (no `..`, no prefix).
pub(crate) fn join_relative(base: &Path, rel: &str) -> PathBuf {
    let mut out = base.to_path_buf();
    for part in rel
        .split(['/', '\\'])
        .filter(|p| !p.is_empty() && *p != ".")
    {
        out.push(part);
    }
    out
}

/// A canonical path in the form to keep and show: on Windows the plain `C:\…` form when it
/// names the same file as the verbatim one `canonicalize` returned; elsewhere unchanged.
pub(crate) fn simplified(path: PathBuf) -> PathBuf {
    #[cfg(windows)]
    if let Some(plain) = path.to_str().and_then(plain_disk_form) {
        return PathBuf::from(plain);
    }
    path
}

/// Whether canonical `path` is `root` or lies beneath it, on Windows whether each is in
/// verbatim or plain form (a root kept plain, a file whose canonical path is verbatim).
pub(crate) fn within(path: &Path, root: &Path) -> bool {
    if path.starts_with(root) {
        return true;
    }
    #[cfg(windows)]
    if let (Some(p), Some(r)) = (path.to_str(), root.to_str()) {
        return windows_within(p, r, false);
    }
    false
}

/// Whether `path` as a caller wrote it (absolute, not resolved) starts inside `root`: no `..`
/// component, and on Windows any form, separator or letter case.
pub(crate) fn within_as_written(path: &Path, root: &Path) -> bool {
    if path.components().any(|c| c == Component::ParentDir) {
        return false;
    }
    if path.starts_with(root) {
        return true;
    }
    #[cfg(windows)]
    if let (Some(p), Some(r)) = (path.to_str(), root.to_str()) {
        return windows_within(p, r, true);
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verbatim_prefixes_are_stripped_for_comparison() {
        assert_eq!(strip_verbatim(r"\\?\C:\Users\me"), r"C:\Users\me");
        assert_eq!(strip_verbatim(r"\\?\C:"), r"C:");
        assert_eq!(strip_verbatim(r"\\?\UNC\srv\share\x"), r"\\srv\share\x");
        assert_eq!(strip_verbatim(r"C:\Users\me"), r"C:\Users\me");
        assert_eq!(strip_verbatim(r"\\srv\share"), r"\\srv\share");
        // Device and volume-GUID namespaces are not drive paths: left alone.
        assert_eq!(strip_verbatim(r"\\.\COM1"), r"\\.\COM1");
        assert_eq!(strip_verbatim(r"\\?\Volume{0b1c}\x"), r"\\?\Volume{0b1c}\x");
    }

    #[test]
    fn plain_form_only_when_windows_reads_it_the_same() {
        assert_eq!(
            plain_disk_form(r"\\?\C:\Users\me\Pictures\easel"),
            Some(r"C:\Users\me\Pictures\easel")
        );
        assert_eq!(plain_disk_form(r"\\?\D:\"), Some(r"D:\"));
        assert_eq!(
            plain_disk_form(r"\\?\D:"),
            None,
            "drive-relative without the slash"
        );
        assert_eq!(plain_disk_form(r"\\?\C:\图片\猫"), Some(r"C:\图片\猫"));
        for kept in [
            r"C:\already\plain",
            r"\\?\UNC\srv\share\x",
            r"\\?\C:\out\NUL",
            r"\\?\C:\out\com1.png",
            r"\\?\C:\out\trailing.",
            r"\\?\C:\out\space \x",
            r"\\?\C:\out\..\x",
            r"\\?\C:\out\\x",
            r"\\?\C:\a/b",
        ] {
            assert_eq!(plain_disk_form(kept), None, "{kept}");
        }
        let long = format!(r"\\?\C:\{}", "x".repeat(256));
        assert_eq!(plain_disk_form(&long).map(str::len), Some(259));
        let too_long = format!(r"\\?\C:\{}", "x".repeat(257));
        assert_eq!(plain_disk_form(&too_long), None, "past MAX_PATH");
    }

    #[test]
    fn within_ignores_verbatim_form_and_separators() {
        let root = r"\\?\C:\Users\me\Pictures\easel";
        for inside in [
            r"\\?\C:\Users\me\Pictures\easel\cats\a.png",
            r"C:\Users\me\Pictures\easel\cats\a.png",
            r"C:/Users/me/Pictures/easel/cats/a.png",
            r"c:\Users\me\Pictures\easel",
        ] {
            assert!(windows_within(inside, root, false), "{inside}");
            assert!(windows_within(inside, &root[4..], false), "{inside}");
        }
        for outside in [
            r"C:\Users\me\Pictures\easel2\a.png",
            r"C:\Users\me\Pictures",
            r"D:\Users\me\Pictures\easel\a.png",
            r"\Users\me\Pictures\easel\a.png",
            r"\\srv\share\Users\me\Pictures\easel",
            r"\\?\UNC\C:\Users\me\Pictures\easel",
            r"C:\Users\me\Pictures\easel\..\secret.txt",
            r"C:\Users\me\Pictures\EASEL\a.png",
        ] {
            assert!(!windows_within(outside, root, false), "{outside}");
        }
        assert!(windows_within(
            r"C:\USERS\ME\Pictures\Easel\a.png",
            root,
            true
        ));
        let unc = r"\\?\UNC\nas\photos\easel";
        assert!(windows_within(r"\\nas\photos\easel\a.png", unc, false));
        assert!(!windows_within(r"\\nas\photos\a.png", unc, false));
        assert!(
            !windows_within(r"C:\x", "", false),
            "an empty root holds nothing"
        );
    }

    #[test]
    fn relative_paths_join_one_component_at_a_time() {
        let base = Path::new("/out");
        assert_eq!(
            join_relative(base, "cats/a.png"),
            Path::new("/out/cats/a.png")
        );
        assert_eq!(
            join_relative(base, r"cats\a.png"),
            Path::new("/out/cats/a.png")
        );
        assert_eq!(
            join_relative(base, r".\cats//x\\a.png"),
            Path::new("/out/cats/x/a.png")
        );
        assert_eq!(join_relative(base, ""), base);
        let joined = join_relative(base, r"cats\a.png");
        assert_eq!(joined.components().count(), 4, "{joined:?}");
    }

    #[test]
    fn written_paths_with_parent_components_are_never_inside() {
        let root = Path::new("/srv/out");
        assert!(within_as_written(Path::new("/srv/out/a/b.png"), root));
        assert!(within_as_written(Path::new("/srv/out/./a.png"), root));
        assert!(!within_as_written(
            Path::new("/srv/out/../etc/passwd"),
            root
        ));
        assert!(!within_as_written(Path::new("/srv/outside/a.png"), root));
        assert!(within(Path::new("/srv/out/a.png"), root));
        assert!(!within(Path::new("/srv/outx/a.png"), root));
    }

    /// The same logic through the real `Path` on Windows, where `canonicalize` returns
    /// verbatim paths.
    #[cfg(windows)]
    #[test]
    fn windows_paths_compare_across_forms() {
        let root = simplified(PathBuf::from(r"\\?\C:\Users\me\Pictures\easel"));
        assert_eq!(root, Path::new(r"C:\Users\me\Pictures\easel"));
        assert!(within(
            Path::new(r"\\?\C:\Users\me\Pictures\easel\a.png"),
            &root
        ));
        assert!(within(
            Path::new(r"C:\Users\me\Pictures\easel\a.png"),
            Path::new(r"\\?\C:\Users\me\Pictures\easel")
        ));
        assert!(within_as_written(
            Path::new(r"c:/users/me/pictures/easel/new.png"),
            &root
        ));
        assert!(!within_as_written(
            Path::new(r"C:\Users\me\Pictures\easel\..\x.png"),
            &root
        ));
        assert_eq!(
            simplified(PathBuf::from(r"\\?\C:\out\CON")),
            Path::new(r"\\?\C:\out\CON"),
            "a device name keeps the verbatim form"
        );
    }
}
