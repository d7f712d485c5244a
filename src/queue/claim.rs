//! The producer's claim on a range of the ring: write in place, then commit.

use std::fmt;
use std::io;
use std::mem::ManuallyDrop;
use std::ops::{Deref, DerefMut};

use crate::error::ReservedTag;
use crate::ring::Ring;
use crate::ring::layout::{Word, span_of};
use crate::sync::Ordering;

/// Space claimed in the ring for one record: write the payload in place, then
/// [`commit`](WriteClaim::commit) it.
///
/// Dereferences to `&mut [u8]` of exactly the claimed length. Its bytes start
/// out unspecified (whatever the ring held before): write every byte you
/// commit. Dropping a claim without committing aborts it: the consumer skips
/// the space.
///
/// It also implements [`std::io::Write`] and [`std::fmt::Write`], which
/// append at a cursor from the claim's first byte: `write!(claim, ...)`
/// formats straight into the ring, with no intermediate `String`. Once
/// anything was written that way, [`commit`](Self::commit) publishes the
/// bytes written (claim the most the record can take, then write what it
/// holds). A write that does not fit in what is left writes nothing and
/// fails (`io::ErrorKind::WriteZero`, or `fmt::Error`); commit what was
/// written, or drop the claim to abort. One `write!` makes several writes,
/// so when it fails the pieces before the one that did not fit stay
/// written: drop the claim if a partial record is of no use.
///
/// ```
/// use std::io::Write as _;
///
/// let (mut producer, mut consumer) = logring::queue::spsc::new(1024)?;
/// let mut claim = producer.try_claim(64)?;
/// write!(claim, "order {} filled at {:.2}", 42, 101.5)?;
/// claim.commit();
/// assert_eq!(&*consumer.try_recv()?, b"order 42 filled at 101.50");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// A claim borrows its producer, so it cannot outlive it:
///
/// ```compile_fail
/// let (mut producer, _consumer) = logring::queue::spsc::new(1024).unwrap();
/// let claim = producer.try_claim(8).unwrap();
/// drop(producer);
/// claim.commit();
/// ```
#[must_use = "a claim that is dropped without commit() is aborted"]
pub struct WriteClaim<'a> {
    ring: &'a Ring,
    /// Position of the record word. Invariant: `[pos, pos + span)` lies inside
    /// the data area without wrapping, and this claim is its only writer.
    pos: u64,
    /// Payload length that commit will publish (`<=` the claimed length).
    len: u64,
    /// Bytes reserved: `span_of(claimed length)`.
    span: u64,
    tag: u32,
    /// The `io::Write`/`fmt::Write` cursor (`<= len`), once anything was
    /// written through them: then commit publishes that many bytes.
    written: Option<u64>,
}

impl<'a> WriteClaim<'a> {
    /// The claim on `[pos, pos + span_of(len))`, which the caller reserved
    /// for it alone and marked `Claimed` (the producers' `reserve`).
    #[inline]
    pub(crate) fn new(ring: &'a Ring, pos: u64, len: u64) -> Self {
        Self {
            ring,
            pos,
            len,
            span: span_of(len),
            tag: 0,
            written: None,
        }
    }

    /// Publishes the record to the consumer: the claimed length (or what
    /// [`truncate`](Self::truncate) left), or, if anything was written
    /// through `io::Write` or `fmt::Write`, the bytes written.
    #[inline]
    pub fn commit(self) {
        let mut this = ManuallyDrop::new(self);
        if let Some(written) = this.written {
            this.len = written;
        }
        let span = span_of(this.len);
        if span < this.span {
            // The shrunk-off remainder (a whole number of words, inside this
            // claim) becomes padding, published by the Release store below.
            // SAFETY: the word lies inside this claim, which this claim alone
            // accesses until that store; a plain write, like the payload
            // writes that may have covered it.
            unsafe {
                this.ring
                    .write_word(this.pos.wrapping_add(span), Word::padding(this.span - span))
            };
        }
        // Release: pairs with the consumer's Acquire load of this word, making
        // every payload write (and the padding above) visible before the record.
        this.ring
            .word(this.pos)
            .store(Word::committed(this.len, this.tag), Ordering::Release);
    }

    /// Gives the space back: the consumer skips it. Same as dropping the claim.
    #[inline]
    pub fn abort(self) {
        drop(self);
    }

    /// Shortens the record to `len` bytes, keeping the first `len` bytes
    /// written. Has no effect if `len` is not below the current length. The
    /// bytes given up are skipped by the consumer (they stay reserved until it
    /// passes them).
    #[inline]
    pub fn truncate(&mut self, len: usize) {
        if (len as u64) < self.len {
            self.len = len as u64;
            self.written = self.written.map(|written| written.min(self.len));
        }
    }

    /// Appends `bytes` at the write cursor, all or nothing; `false` if they
    /// do not fit in what is left of the claim.
    #[inline]
    fn append(&mut self, bytes: &[u8]) -> bool {
        let at = self.written.unwrap_or(0);
        if bytes.len() as u64 > self.len - at {
            return false;
        }
        let end = at + bytes.len() as u64;
        self[at as usize..end as usize].copy_from_slice(bytes);
        self.written = Some(end);
        true
    }

    /// Sets the record's tag, a `u32` the consumer reads with
    /// [`ReadClaim::tag`](crate::queue::ReadClaim::tag) (e.g. a record kind).
    /// Defaults to 0.
    ///
    /// # Errors
    ///
    /// [`ReservedTag`] for a tag of [`ReservedTag::RANGE`]
    /// (`0xffffff00..=0xffffffff`), which logring keeps for its own records
    /// (log events); the tag is then left as it was.
    #[inline]
    pub fn set_tag(&mut self, tag: u32) -> Result<(), ReservedTag> {
        ReservedTag::check(tag)?;
        self.tag = tag;
        Ok(())
    }

    /// Sets the record's tag, reserved ones included: for the crate's own
    /// records (an event encoder's `EVENT_TAG_V1`).
    #[allow(dead_code)] // used by the event front-ends
    #[inline]
    pub(crate) fn set_tag_unchecked(&mut self, tag: u32) {
        self.tag = tag;
    }

    /// The record's tag.
    #[inline]
    pub fn tag(&self) -> u32 {
        self.tag
    }

    /// Free-running position of the record in the ring.
    #[inline]
    pub fn position(&self) -> u64 {
        self.pos
    }
}

impl Deref for WriteClaim<'_> {
    type Target = [u8];

    #[inline]
    fn deref(&self) -> &[u8] {
        self.ring.track_payload(self.pos, self.len, false);
        // SAFETY: `[pos + 8, pos + 8 + len)` lies inside the data area (type
        // invariant) and only this claim accesses it until commit or abort; the
        // bytes are initialised (the region starts zeroed and is only ever
        // written with initialised bytes).
        unsafe { std::slice::from_raw_parts(self.ring.payload_ptr(self.pos), self.len as usize) }
    }
}

impl DerefMut for WriteClaim<'_> {
    #[inline]
    fn deref_mut(&mut self) -> &mut [u8] {
        self.ring.track_payload(self.pos, self.len, true);
        // SAFETY: as in `deref`; `&mut self` makes this the only live slice.
        unsafe {
            std::slice::from_raw_parts_mut(self.ring.payload_ptr(self.pos), self.len as usize)
        }
    }
}

impl Drop for WriteClaim<'_> {
    fn drop(&mut self) {
        // Release: pairs with the consumer's Acquire load of this word, so the
        // payload we may have written is finished before the consumer zeroes it
        // (MPSC) or releases it to the next writer.
        self.ring
            .word(self.pos)
            .store(Word::padding(self.span), Ordering::Release);
    }
}

impl fmt::Debug for WriteClaim<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WriteClaim")
            .field("position", &self.pos)
            .field("len", &self.len)
            .field("tag", &self.tag)
            .finish_non_exhaustive()
    }
}

impl io::Write for WriteClaim<'_> {
    /// Appends all of `buf` at the cursor, or nothing: a `buf` longer than
    /// what is left of the claim fails with `ErrorKind::WriteZero`.
    #[inline]
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.append(buf) {
            Ok(buf.len())
        } else {
            Err(io::ErrorKind::WriteZero.into())
        }
    }

    #[inline]
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl fmt::Write for WriteClaim<'_> {
    /// Appends all of `s` at the cursor, or nothing (`fmt::Error` if it does
    /// not fit in what is left of the claim).
    #[inline]
    fn write_str(&mut self, s: &str) -> fmt::Result {
        if self.append(s.as_bytes()) {
            Ok(())
        } else {
            Err(fmt::Error)
        }
    }
}
