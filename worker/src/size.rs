//! Sizes as operators write them: `500GiB`, `2TB`, `1048576`.

/// Why a size does not parse.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("`{0}` is not a size: give bytes, or a number with a unit such as 500GiB, 2TB, 64MiB")]
pub struct SizeError(String);

/// Parses a byte count with an optional unit (B, KB/KiB, MB/MiB, GB/GiB,
/// TB/TiB, PB/PiB; decimal or binary as the unit says).
pub fn parse(text: &str) -> Result<u64, SizeError> {
    let error = || SizeError(text.into());
    let trimmed = text.trim();
    let split = trimmed
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(trimmed.len());
    let (number, unit) = trimmed.split_at(split);
    let number: u64 = number.parse().map_err(|_| error())?;
    let factor: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "kb" | "k" => 1_000,
        "kib" => 1 << 10,
        "mb" | "m" => 1_000_000,
        "mib" => 1 << 20,
        "gb" | "g" => 1_000_000_000,
        "gib" => 1 << 30,
        "tb" | "t" => 1_000_000_000_000,
        "tib" => 1 << 40,
        "pb" | "p" => 1_000_000_000_000_000,
        "pib" => 1 << 50,
        _ => return Err(error()),
    };
    number.checked_mul(factor).ok_or_else(error)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_parse_with_decimal_and_binary_units() {
        assert_eq!(parse("1048576"), Ok(1 << 20));
        assert_eq!(parse("500GiB"), Ok(500 << 30));
        assert_eq!(parse("2TB"), Ok(2_000_000_000_000));
        assert_eq!(parse("64 mib"), Ok(64 << 20));
        for bad in ["", "GiB", "1.5GiB", "-1", "12XB", "99999999999PiB"] {
            assert!(parse(bad).is_err(), "{bad:?} parsed");
        }
    }
}
