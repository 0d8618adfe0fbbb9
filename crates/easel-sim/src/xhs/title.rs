//! The service's title rule (contract 5.3): every UTF-16 code unit above 127 counts 2,
//! every other counts 1, and the total is halved rounding up. The limit is 20.

/// Longest title accepted, in weighted units.
pub const MAX_TITLE: usize = 20;

/// `xhsutil.CalcTitleLength`.
pub fn weighted_length(title: &str) -> usize {
    let units: usize = title
        .encode_utf16()
        .map(|unit| if unit > 127 { 2 } else { 1 })
        .sum();
    units.div_ceil(2)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn contract_examples() {
        assert_eq!(weighted_length("OOTD穿搭分享"), 6);
        assert_eq!(weighted_length(&"字".repeat(20)), 20);
        assert_eq!(weighted_length(&"a".repeat(40)), 20);
        assert_eq!(weighted_length("😀"), 2);
        assert_eq!(weighted_length("！"), 1);
        assert_eq!(weighted_length("abc"), 2);
    }
}
