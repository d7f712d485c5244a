//! The 64-byte records of the channel benches, and what their consumers
//! check: every record carries `producer << 56 | sequence` in its first 8
//! bytes, a stamp in the next 8 and a fixed pattern in the rest; the consumer
//! reads every word (a checksum), checks each producer's order and, at the
//! end, that exactly what was sent arrived.

/// Payload bytes of every record.
pub const LEN: usize = 64;
/// Bytes a 64-byte record takes in a logring (or nexus-logbuf) ring.
pub const RECORD_SPAN: usize = 72;
/// The most producers a run may have (producer ids are checked against it).
pub const MAX_PRODUCERS: usize = 4;
/// The sequence bits of word 0.
const SEQ_MASK: u64 = (1 << 56) - 1;

/// One record's bytes, as the contenders that move values send them.
pub type Msg = [u8; LEN];

/// Bytes 16..64 of every message.
const FILL: [u8; LEN - 16] = {
    let mut fill = [0u8; LEN - 16];
    let mut i = 0;
    while i < fill.len() {
        fill[i] = (i as u8).wrapping_mul(37).wrapping_add(11);
        i += 1;
    }
    fill
};

/// Word 0: `producer << 56 | seq`; word 1: `stamp` (send time for wake-up
/// runs, 0 otherwise); words 2..8: [`FILL`].
#[inline]
pub fn message(producer: usize, seq: u64, stamp: u64) -> Msg {
    let mut msg = [0u8; LEN];
    msg[..8].copy_from_slice(&(((producer as u64) << 56) | seq).to_le_bytes());
    msg[8..16].copy_from_slice(&stamp.to_le_bytes());
    msg[16..].copy_from_slice(&FILL);
    msg
}

/// Word `k` (little-endian) of a message.
#[inline]
fn word(msg: &Msg, k: usize) -> u64 {
    u64::from_le_bytes(msg[8 * k..8 * k + 8].try_into().unwrap())
}

/// Messages producer `k` of `producers` sends out of `n`.
pub fn share(n: u64, producers: usize, k: usize) -> u64 {
    let p = producers as u64;
    n / p + u64::from((k as u64) < n % p)
}

/// What a consumer received, checked record by record.
pub struct Tally {
    /// Records received.
    pub msgs: u64,
    /// Wrapping sum of every word of every record.
    sum: u64,
    /// The sequence number expected next from each producer.
    next: [u64; MAX_PRODUCERS],
    /// Records that were not what was expected.
    faults: u64,
    /// What was wrong with the first of them.
    first_fault: Option<String>,
}

impl Tally {
    /// Nothing received yet.
    pub fn new() -> Self {
        Self {
            msgs: 0,
            sum: 0,
            next: [0; MAX_PRODUCERS],
            faults: 0,
            first_fault: None,
        }
    }

    /// Reads and checks one record; returns its stamp.
    #[inline]
    pub fn add(&mut self, record: &[u8]) -> u64 {
        self.msgs += 1;
        let Ok(msg) = <&Msg>::try_from(record) else {
            self.fault(format!(
                "record {} is {} bytes long, not {LEN}",
                self.msgs,
                record.len()
            ));
            return 0;
        };
        let head = word(msg, 0);
        let (producer, seq) = ((head >> 56) as usize, head & SEQ_MASK);
        match self.next.get_mut(producer) {
            Some(next) if *next == seq => *next += 1,
            Some(next) => {
                let expected = *next;
                *next = seq + 1;
                self.fault(format!(
                    "record {}: producer {producer} sequence {seq}, expected {expected}",
                    self.msgs
                ));
            }
            None => self.fault(format!("record {}: producer id {producer}", self.msgs)),
        }
        self.sum = (0..LEN / 8).fold(self.sum, |sum, k| sum.wrapping_add(word(msg, k)));
        word(msg, 1)
    }

    /// Counts a bad record, keeping the first description.
    #[cold]
    #[inline(never)]
    fn fault(&mut self, what: String) {
        self.faults += 1;
        if self.first_fault.is_none() {
            self.first_fault = Some(what);
        }
    }

    /// Whether exactly `n` messages from `producers` producers arrived, each
    /// producer's in order (and, with `check_sum`, with the right content;
    /// stamps are 0).
    pub fn verify(&self, n: u64, producers: usize, check_sum: bool) -> Result<(), String> {
        if let Some(first) = &self.first_fault {
            return Err(format!("{} bad records; first: {first}", self.faults));
        }
        if self.msgs != n {
            return Err(format!("received {} records of {n}", self.msgs));
        }
        for k in 0..producers {
            if self.next[k] != share(n, producers, k) {
                return Err(format!(
                    "producer {k}: received {} records of {}",
                    self.next[k],
                    share(n, producers, k)
                ));
            }
        }
        if check_sum {
            let fill: u64 = FILL
                .chunks_exact(8)
                .map(|w| u64::from_le_bytes(w.try_into().unwrap()))
                .fold(0, u64::wrapping_add);
            let mut sum = n.wrapping_mul(fill);
            for k in 0..producers {
                let m = share(n, producers, k);
                let seqs = (u128::from(m) * u128::from(m.saturating_sub(1)) / 2) as u64;
                sum = sum
                    .wrapping_add(((k as u64) << 56).wrapping_mul(m))
                    .wrapping_add(seqs);
            }
            if self.sum != sum {
                return Err(format!(
                    "content checksum {:#x}, expected {sum:#x}",
                    self.sum
                ));
            }
        }
        Ok(())
    }
}
