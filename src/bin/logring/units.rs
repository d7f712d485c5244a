//! Parsers for the values people type: sizes, durations, permission bits.

use std::time::Duration;

/// A byte count with an optional unit: `65536`, `64KiB`, `4MiB`, `1.5GiB`
/// (powers of 1024), or `64KB`, `4M` (powers of 1000).
pub fn size(text: &str) -> Result<usize, String> {
    let bytes = text
        .parse::<bytesize::ByteSize>()
        .map_err(|_| format!("{text:?} is not a size (try 65536, 64KiB, 4MiB or 1GiB)"))?
        .as_u64();
    usize::try_from(bytes).map_err(|_| format!("{text} is more than this machine can address"))
}

/// A span of time: `250ms`, `2s`, `1m`, `1h 30m`.
pub fn duration(text: &str) -> Result<Duration, String> {
    humantime::parse_duration(text)
        .map_err(|error| format!("{text:?} is not a duration ({error}; try 250ms, 2s or 1m)"))
}

/// The shortest `stat --watch --interval`: a monitor must not spin.
pub const MIN_INTERVAL: Duration = Duration::from_millis(10);

/// A refresh interval: a [`duration`] of at least [`MIN_INTERVAL`].
pub fn refresh_interval(text: &str) -> Result<Duration, String> {
    let interval = duration(text)?;
    if interval < MIN_INTERVAL {
        return Err(format!(
            "{text:?} is too short an interval (at least {})",
            humantime::format_duration(MIN_INTERVAL)
        ));
    }
    Ok(interval)
}

/// File permission bits in octal: `600`, `0640`, `0o640`. Read, write and
/// execute bits only: set-user-id, set-group-id and sticky bits mean
/// nothing for a ring file.
pub fn permissions(text: &str) -> Result<u32, String> {
    let digits = text.strip_prefix("0o").unwrap_or(text);
    match u32::from_str_radix(digits, 8) {
        Ok(bits) if bits <= 0o777 => Ok(bits),
        Ok(bits) if bits <= 0o7777 => Err(format!(
            "{text:?} sets special bits (set-user-id, set-group-id or sticky); \
             a ring file takes read, write and execute bits only (try 0600 or 0640)"
        )),
        _ => Err(format!(
            "{text:?} is not octal permission bits (try 0600 or 0640)"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_take_binary_and_decimal_units() {
        assert_eq!(size("65536"), Ok(65536));
        assert_eq!(size("64KiB"), Ok(64 << 10));
        assert_eq!(size("4MiB"), Ok(4 << 20));
        assert_eq!(size("4 MiB"), Ok(4 << 20));
        assert_eq!(size("1GiB"), Ok(1 << 30));
        assert_eq!(size("4MB"), Ok(4_000_000));
        assert!(size("4XB").is_err());
        assert!(size("").is_err());
        assert!(size("-1").is_err());
    }

    #[test]
    fn durations_and_permissions() {
        assert_eq!(duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(duration("2s"), Ok(Duration::from_secs(2)));
        assert!(duration("soon").is_err());
        assert_eq!(permissions("0640"), Ok(0o640));
        assert_eq!(permissions("600"), Ok(0o600));
        assert_eq!(permissions("0o755"), Ok(0o755));
        assert!(permissions("0999").is_err());
        assert!(permissions("17777").is_err());
        assert!(permissions("4777").is_err(), "set-user-id");
        assert!(permissions("1777").is_err(), "sticky");
        assert!(refresh_interval("0s").is_err());
        assert!(refresh_interval("5ms").is_err());
        assert_eq!(refresh_interval("10ms"), Ok(MIN_INTERVAL));
    }
}
