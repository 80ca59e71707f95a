//! The one bounds-checked, zero-copy cursor every binary reader goes through.
//!
//! Modelled on rustls' `codec::Reader`: it hands out sub-slices of the input
//! (`&'a [u8]`), never copies, and every read that would run past the end
//! returns [`FormatError::Truncated`] naming the field and the absolute byte
//! offset instead of panicking. Offsets are absolute: a cursor over a value
//! that starts at byte 1 000 of a file reports file offsets, so errors can be
//! shown to an administrator as-is.

use super::error::{Field, FormatError};

/// A forward-only reader over a borrowed byte slice.
#[derive(Debug, Clone)]
pub struct Cursor<'a> {
    buf: &'a [u8],
    pos: usize,
    base: usize,
}

impl<'a> Cursor<'a> {
    /// A cursor over `buf`, whose first byte is at file offset 0.
    pub fn new(buf: &'a [u8]) -> Self {
        Self::at(buf, 0)
    }

    /// A cursor over `buf`, whose first byte is at file offset `base`.
    pub fn at(buf: &'a [u8], base: usize) -> Self {
        Cursor { buf, pos: 0, base }
    }

    /// Absolute offset of the next byte to be read.
    pub fn offset(&self) -> usize {
        self.base + self.pos
    }

    /// Bytes not yet read.
    pub fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }

    pub fn is_empty(&self) -> bool {
        self.remaining() == 0
    }

    /// The unread bytes, without consuming them.
    pub fn peek_rest(&self) -> &'a [u8] {
        &self.buf[self.pos..]
    }

    /// Takes exactly `n` bytes, or fails without consuming anything.
    pub fn take(&mut self, n: usize, field: Field) -> Result<&'a [u8], FormatError> {
        if n > self.remaining() {
            return Err(FormatError::Truncated {
                field,
                offset: self.offset(),
                needed: n,
                available: self.remaining(),
            });
        }
        let out = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        Ok(out)
    }

    /// Reads a little-endian `u32`.
    pub fn u32_le(&mut self, field: Field) -> Result<u32, FormatError> {
        let b = self.take(4, field)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }

    /// Consumes and returns everything that is left.
    pub fn rest(&mut self) -> &'a [u8] {
        let out = &self.buf[self.pos..];
        self.pos = self.buf.len();
        out
    }
}

/// Reads a little-endian `u32` at `pos` of `buf`, if it is in range.
pub fn u32_at(buf: &[u8], pos: usize) -> Option<u32> {
    let b = buf.get(pos..pos.checked_add(4)?)?;
    Some(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn take_past_end_is_a_typed_error_and_consumes_nothing() {
        let mut c = Cursor::at(&[1, 2, 3], 100);
        assert_eq!(c.take(2, Field::PropertyValue).unwrap(), &[1, 2]);
        let err = c.u32_le(Field::PropertyLength).unwrap_err();
        assert_eq!(
            err,
            FormatError::Truncated {
                field: Field::PropertyLength,
                offset: 102,
                needed: 4,
                available: 1
            }
        );
        assert_eq!(c.offset(), 102);
        assert_eq!(c.rest(), &[3]);
        assert!(c.is_empty());
    }
}
