// STAND-IN: the whole file. The dictionary storage (the area after the data
// area, registration and lookup) replaces it; until then a ring has no
// dictionary, and every lookup finds nothing.

//! The dictionary kept with each ring (stand-in: always empty).

use super::Ring;

/// A view of a ring's dictionary.
pub(crate) struct Dictionary<'r> {
    _ring: &'r Ring,
}

impl Ring {
    /// The ring's dictionary.
    pub(crate) fn dictionary(&self) -> Dictionary<'_> {
        Dictionary { _ring: self }
    }
}

impl<'r> Dictionary<'r> {
    /// The payload of the committed entry `id`, if there is one.
    pub(crate) fn entry(&self, _id: u32) -> Option<&'r [u8]> {
        None
    }
}

#[cfg(feature = "events")]
impl<'r> crate::ring::event::Lookup<'r> for Dictionary<'r> {
    fn entry(&self, id: u32) -> Option<&'r [u8]> {
        Dictionary::entry(self, id)
    }
}
