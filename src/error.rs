//! The errors every layer shares: building a ring, and finding it corrupt.
//!
//! Each operation's own error type lives beside it, in the layer that
//! returns it (`queue::ClaimError`, `channel::SendError`, …), and says what
//! the caller can do next; corruption is a variant of each error where it
//! can happen, carrying a [`CorruptRing`].

use std::fmt;

/// Building a ring failed.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Error {
    /// The capacity is below the smallest ring this crate builds.
    CapacityTooSmall {
        /// The capacity asked for, in bytes.
        requested: usize,
        /// The smallest capacity accepted, in bytes.
        min: usize,
    },
    /// The capacity, rounded up to a power of two, is above the largest ring
    /// this crate builds (or does not fit in a `usize` at all).
    CapacityTooLarge {
        /// The capacity asked for, in bytes.
        requested: usize,
        /// The largest capacity accepted, in bytes.
        max: usize,
    },
    /// The allocator could not provide the ring's memory.
    OutOfMemory {
        /// Bytes asked of the allocator (header and data area).
        bytes: usize,
    },
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Error::CapacityTooSmall { requested, min } => {
                write!(
                    f,
                    "ring capacity {requested} bytes is below the minimum of {min} bytes"
                )
            }
            Error::CapacityTooLarge { requested, max } => {
                write!(
                    f,
                    "ring capacity {requested} bytes is above the maximum of {max} bytes"
                )
            }
            Error::OutOfMemory { bytes } => {
                write!(f, "could not allocate {bytes} bytes for the ring")
            }
        }
    }
}

impl std::error::Error for Error {}

/// The ring's memory holds what no producer or consumer writes: it was
/// corrupted (by a foreign writer, a truncated file, or a bug).
///
/// A consumer that finds a bad record word stops at its position and
/// delivers nothing past it. A producer that finds the shared positions
/// impossible (the consumer's `head` more than a capacity behind, or ahead
/// of, the `tail`) refuses to claim rather than report the ring `Full` for
/// ever.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CorruptRing {
    /// Free-running position of the bad record word, or the producer's
    /// `tail` for impossible positions.
    pub position: u64,
    /// The raw value found: the record word there, or the `head` read.
    pub word: u64,
    /// What is wrong with it.
    pub reason: &'static str,
}

impl fmt::Display for CorruptRing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "corrupt ring at position {}: {} (found {:#018x})",
            self.position, self.reason, self.word
        )
    }
}

impl std::error::Error for CorruptRing {}

/// A claim's tag was set to one of the tags logring keeps for its own
/// records ([`ReservedTag::RANGE`]: `0xffffff00..=0xffffffff`), such as log
/// events: a record of yours never carries one, so that no reader takes it
/// for one of logring's. The claim keeps the tag it had.
///
/// ```
/// let (mut producer, _consumer) = logring::queue::spsc::new(1024)?;
/// let mut claim = producer.try_claim(0)?;
/// let error = claim.set_tag(0xffff_ff01).unwrap_err();
/// assert_eq!(error.tag(), 0xffff_ff01);
/// assert!(logring::ReservedTag::RANGE.contains(&error.tag()));
/// claim.set_tag(7)?; // any tag below the range
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReservedTag {
    tag: u32,
}

impl ReservedTag {
    /// The tags logring keeps for its own records.
    pub const RANGE: std::ops::RangeInclusive<u32> = crate::ring::layout::RESERVED_TAGS;

    /// Whether a claim would take `tag`: `Err` for a tag in
    /// [`RANGE`](Self::RANGE), which `set_tag` refuses (a program can check
    /// a tag it was given once, before it claims).
    ///
    /// # Errors
    ///
    /// `ReservedTag` for a tag of [`RANGE`](Self::RANGE).
    #[inline]
    pub fn check(tag: u32) -> Result<(), Self> {
        if tag >= *Self::RANGE.start() {
            Err(Self { tag })
        } else {
            Ok(())
        }
    }

    /// The tag that was refused.
    pub fn tag(&self) -> u32 {
        self.tag
    }
}

impl fmt::Display for ReservedTag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "tag {:#010x} is reserved for logring's own records ({:#010x}..={:#010x})",
            self.tag,
            Self::RANGE.start(),
            Self::RANGE.end()
        )
    }
}

impl std::error::Error for ReservedTag {}
