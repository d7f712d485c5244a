//! Helpers shared by the benchmarks: environment settings, CPU accounting
//! from `/proc`, spreads of repeated measurements and the machine's name.

use std::str::FromStr;

/// Clock ticks: all cores busy, all cores total, and this process.
#[derive(Clone, Copy)]
pub struct CpuTimes {
    busy: u64,
    total: u64,
    ours: u64,
}

impl CpuTimes {
    /// `None` in smoke mode (runs too short for tick accounting) or without
    /// `/proc`.
    pub fn sample(smoke: bool) -> Option<Self> {
        if smoke {
            return None;
        }
        Self::read()
    }

    pub fn read() -> Option<Self> {
        let stat = std::fs::read_to_string("/proc/stat").ok()?;
        // cpu user nice system idle iowait irq softirq steal ...
        let fields: Vec<u64> = stat
            .lines()
            .next()?
            .strip_prefix("cpu ")?
            .split_whitespace()
            .map(|f| f.parse().unwrap_or(0))
            .collect();
        let at = |k: usize| fields.get(k).copied().unwrap_or(0);
        let idle = at(3) + at(4);
        let busy = at(0) + at(1) + at(2) + at(5) + at(6) + at(7);
        let own = std::fs::read_to_string("/proc/self/stat").ok()?;
        // Fields after the parenthesised command: state is field 3, utime 14, stime 15.
        let after_comm: Vec<&str> = own.rsplit_once(')')?.1.split_whitespace().collect();
        let ours =
            after_comm.get(11)?.parse::<u64>().ok()? + after_comm.get(12)?.parse::<u64>().ok()?;
        Some(Self {
            busy,
            total: busy + idle,
            ours,
        })
    }

    /// Share of all cores' time since `self` that was busy outside this
    /// process (steal included: another guest had our core).
    pub fn foreign_share(self) -> Option<f64> {
        let now = Self::read()?;
        let total = now.total.checked_sub(self.total)?;
        let foreign = (now.busy - self.busy).saturating_sub(now.ours - self.ours);
        (total > 0).then(|| foreign as f64 / total as f64)
    }
}

pub fn env_or<T: FromStr>(name: &str, default: T) -> T {
    match std::env::var(name) {
        Ok(value) => value
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("{name}={value:?} is not a valid value")),
        Err(_) => default,
    }
}

pub fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|info| {
            info.lines()
                .find_map(|line| line.strip_prefix("model name"))
                .and_then(|rest| rest.split_once(':'))
                .map(|(_, name)| name.trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into())
}

pub struct Spread {
    pub median: f64,
    pub min: f64,
    pub max: f64,
}

impl Spread {
    pub fn of(values: impl Iterator<Item = f64>) -> Self {
        let mut v: Vec<f64> = values.collect();
        assert!(!v.is_empty());
        v.sort_by(f64::total_cmp);
        let mid = v.len() / 2;
        let median = if v.len() % 2 == 1 {
            v[mid]
        } else {
            (v[mid - 1] + v[mid]) / 2.0
        };
        Self {
            median,
            min: v[0],
            max: v[v.len() - 1],
        }
    }

    pub fn show(&self, digits: usize, unit: &str) -> String {
        format!(
            "{:.digits$}{unit} ({:.digits$}-{:.digits$})",
            self.median, self.min, self.max
        )
    }
}
