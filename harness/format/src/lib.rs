//! Byte-exact readers and writers for the certificate store formats Windows
//! uses (see `docs/FORMATS.md`): property entries,
//! serialized elements, `.sst` store files, registry `Blob` values and
//! `reg export` files.
//!
//! Every binary reader goes through [`cursor::Cursor`], borrows from its input
//! and returns a [`FormatError`] carrying the absolute byte offset; the `.reg`
//! reader reports line and column. Writers are byte-exact:
//! `write(parse(bytes)) == bytes` for every valid input.

extern crate self as certmig_format;

#[doc(hidden)]
pub use serde as __serde;
#[doc(hidden)]
pub use strum as __strum;

pub mod cursor;
pub mod der;
pub mod detect;
pub mod dump;
pub mod element;
pub mod error;
pub mod friendly_name;
pub mod hex;
pub mod key_prov_info;
pub mod limits;
pub mod names;
pub mod property;
pub mod reg;
pub mod registry;
pub mod repair;
pub mod seed;
pub mod store;
pub mod thumbprint;

pub use detect::{detect, parse_element_file, FileFormat};
pub use element::{ContextKind, ElementView, EntryOrder, ReadMode, SerializedElement};
pub use error::{Field, FormatError, Location, NotAStore, RegError};
pub use friendly_name::{Defect, FriendlyNameShape};
pub use key_prov_info::KeyProvInfo;
pub use limits::Limits;
pub use property::{Property, PropertyId};
pub use store::{
    ContextFirstIter, ElementBatch, SerializedStore, StoreElements, StoreIter, StoreReader,
    StoreWriter,
};
pub use thumbprint::Thumbprint;
