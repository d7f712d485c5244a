//! `RingFile` where ring files are not supported: every attempt to create or
//! open one says so, and the API is the same as on Linux.

use std::convert::Infallible;
use std::path::Path;

use super::{FileError, FileErrorKind, Mode, Options};
use crate::channel::{self, Receiver};
use crate::queue::{self, Consumer};

/// A ring in a memory-mapped file: not supported on this operating system.
#[derive(Debug)]
pub struct RingFile {
    never: Infallible,
}

macro_rules! unreachable_methods {
    ($($name:ident -> $ret:ty;)*) => {
        $(
            #[allow(missing_docs)]
            pub fn $name(&self) -> $ret {
                match self.never {}
            }
        )*
    };
}

impl RingFile {
    /// Returns [`FileErrorKind::Unsupported`].
    ///
    /// # Errors
    ///
    /// Always.
    pub fn create(path: impl AsRef<Path>, _options: Options) -> Result<Self, FileError> {
        Err(FileError::new(path.as_ref(), FileErrorKind::Unsupported))
    }

    /// Returns [`FileErrorKind::Unsupported`].
    ///
    /// # Errors
    ///
    /// Always.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, FileError> {
        Err(FileError::new(path.as_ref(), FileErrorKind::Unsupported))
    }

    /// Returns [`FileErrorKind::Unsupported`].
    ///
    /// # Errors
    ///
    /// Always.
    pub fn open_or_create(path: impl AsRef<Path>, _options: Options) -> Result<Self, FileError> {
        Err(FileError::new(path.as_ref(), FileErrorKind::Unsupported))
    }

    unreachable_methods! {
        path -> &Path;
        mode -> Mode;
        consumer_attached -> bool;
        consumer_pid -> Option<u32>;
        producers_attached -> bool;
        producer_count -> usize;
        format_version -> (u16, u16);
        head -> u64;
        tail -> u64;
        skipped_claims -> u64;
        capacity -> usize;
        max_record_len -> usize;
        len_bytes -> usize;
        is_empty -> bool;
        full_rejections -> u64;
        check_len -> Result<(), FileError>;
        flush -> Result<(), FileError>;
        spsc_producer -> Result<queue::spsc::Producer, FileError>;
        mpsc_producer -> Result<queue::mpsc::Producer, FileError>;
        consumer -> Result<Consumer, FileError>;
        spsc_sender -> Result<channel::spsc::Sender, FileError>;
        mpsc_sender -> Result<channel::mpsc::Sender, FileError>;
        receiver -> Result<Receiver, FileError>;
    }
}

/// A ring file looked at read-only: not supported on this operating system.
#[derive(Debug)]
pub struct RingObserver {
    never: Infallible,
}

impl RingObserver {
    /// Returns [`FileErrorKind::Unsupported`].
    ///
    /// # Errors
    ///
    /// Always.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, FileError> {
        Err(FileError::new(path.as_ref(), FileErrorKind::Unsupported))
    }

    unreachable_methods! {
        path -> &Path;
        mode -> Mode;
        consumer_attached -> bool;
        consumer_pid -> Option<u32>;
        producers_attached -> bool;
        producer_count -> usize;
        format_version -> (u16, u16);
        head -> u64;
        tail -> u64;
        skipped_claims -> u64;
        capacity -> usize;
        max_record_len -> usize;
        len_bytes -> usize;
        is_empty -> bool;
        full_rejections -> u64;
        check_len -> Result<(), FileError>;
    }
}
