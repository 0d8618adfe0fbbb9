//! Size ranges per model family (docs/contracts/modelscope.md §2.3), checked before submitting
//! so that the caller learns the range instead of paying for a rejected call.

use crate::request::{InvalidInput, Size};

/// A model family and its allowed side length, inclusive.
#[derive(Debug, PartialEq, Eq)]
pub struct Family {
    pub name: &'static str,
    pub min: u32,
    pub max: u32,
}

/// The family of a model id, or `None` for models whose limits easel does not know (the
/// API then answers for itself).
pub fn family(model: &str) -> Option<Family> {
    let m = model.to_ascii_lowercase();
    let f = |name, min, max| Some(Family { name, min, max });
    if m.contains("qwen-image") {
        f("Qwen-Image", 64, 1664)
    } else if m.contains("z-image") {
        f("Z-Image", 512, 2048)
    } else if m.contains("flux") || m.contains("majicflus") {
        f("FLUX", 64, 1024)
    } else if m.contains("stable-diffusion")
        || m.contains("sdxl")
        || m.contains("sd-xl")
        || m.contains("sd1.5")
        || m.contains("sd-1.5")
    {
        f("Stable Diffusion", 64, 2048)
    } else {
        None
    }
}

/// Edit models need a source image, so they belong to `edit_image`, not `generate_image`.
pub fn is_edit_model(model: &str) -> bool {
    model.contains("Edit") || model.contains("Kontext")
}

pub fn check_size(model: &str, size: Size) -> Result<(), InvalidInput> {
    let Some(fam) = family(model) else {
        return Ok(());
    };
    let ok = |side: u32| (fam.min..=fam.max).contains(&side);
    if ok(size.width) && ok(size.height) {
        return Ok(());
    }
    let example = if fam.name == "Qwen-Image" {
        " (Qwen-Image's native sizes: 1328x1328, 1664x928, 928x1664, 1472x1140, 1140x1472)"
    } else {
        ""
    };
    Err(InvalidInput::new(
        "size",
        format!(
            "{size} is outside what {} models accept: each side {}..={}",
            fam.name, fam.min, fam.max
        ),
        format!(
            "Pick a size with both sides from {} to {}{example}.",
            fam.min, fam.max
        ),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(w: u32, h: u32) -> Size {
        Size {
            width: w,
            height: h,
        }
    }

    #[test]
    fn ranges_per_family() {
        assert!(check_size("Qwen/Qwen-Image", s(1664, 928)).is_ok());
        assert!(check_size("Qwen/Qwen-Image", s(1665, 928)).is_err());
        assert!(check_size("black-forest-labs/FLUX.1-Krea-dev", s(1024, 1024)).is_ok());
        assert!(check_size("MAILAND/majicflus_v1", s(1280, 720)).is_err());
        assert!(check_size("Tongyi-MAI/Z-Image-Turbo", s(256, 512)).is_err());
        assert!(check_size("Tongyi-MAI/Z-Image-Turbo", s(2048, 512)).is_ok());
        assert!(check_size("stabilityai/stable-diffusion-xl-base-1.0", s(2048, 64)).is_ok());
        assert!(check_size("someone/unknown-model", s(9000, 9000)).is_ok());
        let e = check_size("Qwen/Qwen-Image", s(2000, 2000)).expect_err("range");
        assert_eq!(e.field, "size");
        assert!(e.reason.contains("64..=1664"), "{e}");
    }
}
