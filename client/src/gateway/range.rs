//! Byte ranges: the HTTP `Range` header of a file request and the trustless
//! gateway's `entity-bytes=from:to` of a CAR request.

use std::ops::Range;

/// What a `Range` header asks of a file of known size.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum ByteRange {
    /// The whole file: no header, or one the gateway ignores (malformed, or
    /// several ranges, which RFC 9110 lets a server answer whole).
    Full,
    /// These bytes (206).
    Part(Range<u64>),
    /// No byte of the file is in the range (416).
    Unsatisfiable,
}

/// Reads a `Range` header (`bytes=a-b`, `bytes=a-`, `bytes=-n`) against a
/// file of `size` bytes.
pub(crate) fn parse_range(header: &str, size: u64) -> ByteRange {
    let Some(spec) = header.trim().strip_prefix("bytes=") else {
        return ByteRange::Full;
    };
    if spec.contains(',') {
        return ByteRange::Full;
    }
    let Some((first, last)) = spec.trim().split_once('-') else {
        return ByteRange::Full;
    };
    let number = |text: &str| -> Option<u64> {
        let text = text.trim();
        (!text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()))
            .then(|| text.parse().ok())
            .flatten()
    };
    let range = match (first.trim().is_empty(), last.trim().is_empty()) {
        // `-n`: the last n bytes.
        (true, false) => match number(last) {
            Some(0) => return ByteRange::Unsatisfiable,
            Some(n) => size.saturating_sub(n)..size,
            None => return ByteRange::Full,
        },
        // `a-`: from a to the end.
        (false, true) => match number(first) {
            Some(start) => start..size,
            None => return ByteRange::Full,
        },
        (false, false) => match (number(first), number(last)) {
            (Some(start), Some(end)) if start <= end => start..end.saturating_add(1).min(size),
            _ => return ByteRange::Full,
        },
        (true, true) => return ByteRange::Full,
    };
    if range.start >= size {
        return ByteRange::Unsatisfiable;
    }
    ByteRange::Part(range)
}

/// One end of `entity-bytes`: an offset from the start, or (negative) from
/// the end.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct EntityBytes {
    from: i64,
    /// `None` for `*`, the end of the entity.
    to: Option<i64>,
}

impl EntityBytes {
    /// Parses `from:to` (`0:*`, `-1024:*`, `499:-1000`, `10:20`).
    pub(crate) fn parse(text: &str) -> Option<Self> {
        let (from, to) = text.split_once(':')?;
        let from = from.parse().ok()?;
        let to = match to {
            "*" => None,
            to => Some(to.parse().ok()?),
        };
        // A range whose ends are both offsets from the same side must not
        // run backwards (the spec's `from <= to`).
        let backwards = matches!(to, Some(to) if (from >= 0) == (to >= 0) && to < from);
        (!backwards).then_some(EntityBytes { from, to })
    }

    /// The bytes of an entity of `size` bytes the range covers, clamped to
    /// the entity; `None` when that is no byte at all.
    pub(crate) fn resolve(&self, size: u64) -> Option<Range<u64>> {
        let at = |offset: i64| -> u64 {
            if offset >= 0 {
                (offset as u64).min(size)
            } else {
                size.saturating_sub(offset.unsigned_abs())
            }
        };
        let start = at(self.from);
        // `to` names the last byte, inclusive.
        let end = match self.to {
            None => size,
            Some(to) => at(to).saturating_add(u64::from(to >= 0)).min(size),
        };
        (start < end).then_some(start..end)
    }

    /// Whether the range starts past the end of an entity of `size` bytes,
    /// which the gateway answers 400 without reading a block.
    pub(crate) fn starts_past(&self, size: u64) -> bool {
        self.from >= 0 && self.from as u64 >= size && size > 0
    }

    /// The range as asked, for an ETag.
    pub(crate) fn text(&self) -> String {
        match self.to {
            Some(to) => format!("{}:{to}", self.from),
            None => format!("{}:*", self.from),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn single_ranges_are_read_and_clamped() {
        assert_eq!(parse_range("bytes=0-9", 100), ByteRange::Part(0..10));
        assert_eq!(parse_range("bytes=90-200", 100), ByteRange::Part(90..100));
        assert_eq!(parse_range("bytes=10-", 100), ByteRange::Part(10..100));
        assert_eq!(parse_range("bytes=-30", 100), ByteRange::Part(70..100));
        assert_eq!(parse_range("bytes=-300", 100), ByteRange::Part(0..100));
        assert_eq!(parse_range(" bytes=5-5 ", 100), ByteRange::Part(5..6));
    }

    #[test]
    fn ranges_past_the_end_are_unsatisfiable() {
        assert_eq!(parse_range("bytes=100-", 100), ByteRange::Unsatisfiable);
        assert_eq!(parse_range("bytes=150-160", 100), ByteRange::Unsatisfiable);
        assert_eq!(parse_range("bytes=-0", 100), ByteRange::Unsatisfiable);
        assert_eq!(parse_range("bytes=0-", 0), ByteRange::Unsatisfiable);
    }

    #[test]
    fn malformed_or_multiple_ranges_are_ignored() {
        for header in [
            "bytes=1-2,5-6",
            "items=0-1",
            "bytes=9-1",
            "bytes=a-b",
            "bytes=-",
            "bytes=+1-2",
            "bytes=1",
            "bytes=99999999999999999999999-",
        ] {
            assert_eq!(parse_range(header, 100), ByteRange::Full, "{header}");
        }
    }

    #[test]
    fn entity_bytes_follow_the_trustless_gateway_spec() {
        let range = |text: &str, size| EntityBytes::parse(text).unwrap().resolve(size);
        assert_eq!(range("0:*", 100), Some(0..100));
        assert_eq!(range("10:19", 100), Some(10..20));
        assert_eq!(range("-10:*", 100), Some(90..100));
        assert_eq!(range("-1000:*", 100), Some(0..100));
        assert_eq!(range("5:-10", 100), Some(5..90));
        assert_eq!(range("90:500", 100), Some(90..100));
        // Zero bytes, or none of the entity's.
        assert_eq!(range("100:*", 100), None);
        assert_eq!(range("50:-60", 100), None);
        assert!(EntityBytes::parse("100:*").unwrap().starts_past(100));
        assert!(!EntityBytes::parse("99:*").unwrap().starts_past(100));
        for bad in ["", "1", "a:b", "1:2:3", "5:1", "-1:-5", "*:1"] {
            assert!(EntityBytes::parse(bad).is_none(), "{bad}");
        }
        assert_eq!(EntityBytes::parse("-5:*").unwrap().text(), "-5:*");
    }
}
