//! Token amounts as people write them: whole tokens with up to 12 decimals
//! (`1.5`), printed back without trailing zeros.

use mosaic_runtime::Balance;

/// Decimals of the token.
pub const DECIMALS: u32 = 12;

/// Why an amount does not parse.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum AmountError {
    /// Not digits with at most one point and [`DECIMALS`] decimals.
    #[error("`{0}` is not an amount with at most {DECIMALS} decimals")]
    Format(String),
    /// More than the largest balance.
    #[error("`{0}` is too large")]
    TooLarge(String),
}

/// Parses `1.5` into the smallest unit.
pub fn parse(text: &str) -> Result<Balance, AmountError> {
    let (whole, fraction) = text.split_once('.').unwrap_or((text, ""));
    if fraction.len() > DECIMALS as usize
        || whole.is_empty() && fraction.is_empty()
        || !whole
            .chars()
            .chain(fraction.chars())
            .all(|c| c.is_ascii_digit())
    {
        return Err(AmountError::Format(text.into()));
    }
    let too_large = || AmountError::TooLarge(text.into());
    let padded = format!("{fraction:0<width$}", width = DECIMALS as usize);
    let whole: Balance = if whole.is_empty() {
        0
    } else {
        whole.parse().map_err(|_| too_large())?
    };
    whole
        .checked_mul(10u128.pow(DECIMALS))
        .and_then(|w| w.checked_add(padded.parse::<Balance>().ok()?))
        .ok_or_else(too_large)
}

/// Prints an amount in tokens.
pub fn format(amount: Balance) -> String {
    let unit = 10u128.pow(DECIMALS);
    let fraction = format!("{:0width$}", amount % unit, width = DECIMALS as usize);
    let fraction = fraction.trim_end_matches('0');
    if fraction.is_empty() {
        format!("{}", amount / unit)
    } else {
        format!("{}.{fraction}", amount / unit)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_parse_to_the_smallest_unit_and_print_back() {
        assert_eq!(parse("1.5").unwrap(), 1_500_000_000_000);
        assert_eq!(parse("0.000000000001").unwrap(), 1);
        assert_eq!(parse(".5").unwrap(), 500_000_000_000);
        assert_eq!(parse("7").unwrap(), 7_000_000_000_000);
        for bad in ["", ".", "1.0000000000001", "-1", "1e3", "1,5", "abc"] {
            assert!(parse(bad).is_err(), "{bad:?} parsed");
        }
        assert!(parse(&u128::MAX.to_string()).is_err());
        assert!(parse(&format!("{}0", u128::MAX)).is_err());
        for text in ["1.5", "0.000000000001", "7", "1000000.25"] {
            assert_eq!(format(parse(text).unwrap()), text);
        }
    }
}
