//! The platform's own crypt32 behind [`CryptoApi`], on Windows and under
//! Wine. Every `unsafe` block of the crosscheck is in this file; each one
//! is a single Win32 call (or a read of memory crypt32 handed back) with the
//! reason it is sound beside it.
//!
//! Handles are owned by small guards ([`Store`], [`Key`], [`TempKey`]) whose
//! `Drop` closes them, so an early return or a panic never leaks a store or
//! leaves the private registry key behind.

use std::ffi::{c_char, c_void, CStr};
use std::ptr::{null, null_mut};

use windows_sys::Win32::Foundation::GetLastError;
use windows_sys::Win32::Security::Cryptography::{
    CertAddSerializedElementToStore, CertCloseStore, CertEnumCertificatesInStore,
    CertFreeCertificateContext, CertGetCertificateContextProperty, CertOpenStore, CERT_CONTEXT,
    CERT_FRIENDLY_NAME_PROP_ID, CERT_HASH_PROP_ID, CERT_KEY_PROV_INFO_PROP_ID,
    CERT_STORE_ADD_ALWAYS, CERT_STORE_CERTIFICATE_CONTEXT, CERT_STORE_CREATE_NEW_FLAG,
    CERT_STORE_PROV_MEMORY, CERT_STORE_PROV_REG, CERT_STORE_PROV_SERIALIZED,
    CERT_STORE_READONLY_FLAG, CRYPT_INTEGER_BLOB, CRYPT_KEY_PROV_INFO, HCERTSTORE,
    PKCS_7_ASN_ENCODING, X509_ASN_ENCODING,
};
use windows_sys::Win32::System::LibraryLoader::{GetModuleHandleW, GetProcAddress};
use windows_sys::Win32::System::Registry::{
    RegCloseKey, RegCreateKeyExW, RegDeleteKeyW, RegDeleteTreeW, RegSetValueExW, HKEY,
    HKEY_CURRENT_USER, KEY_ALL_ACCESS, REG_BINARY, REG_OPTION_VOLATILE,
};

use super::{CryptoApi, KeyLink, Observed, Platform, RegistryBlob};
use crate::cryptoapi::Hresult;

/// `CERT_STORE_CERTIFICATE_CONTEXT_FLAG` of wincrypt.h (`1 <<
/// CERT_STORE_CERTIFICATE_CONTEXT`), which windows-sys does not define.
const CERT_STORE_CERTIFICATE_CONTEXT_FLAG: u32 = 1 << CERT_STORE_CERTIFICATE_CONTEXT;

/// Where the private registry stores are made, under `HKEY_CURRENT_USER`.
const KEY_ROOT: &str = r"Software\certmig";

/// The platform's crypt32.
pub struct Crypt32 {
    platform: Platform,
    /// Registry stores made so far (names each private key uniquely).
    made: u32,
}

impl Crypt32 {
    /// Detects the platform (Wine or the Windows version) once.
    pub fn new() -> Crypt32 {
        Crypt32 {
            platform: detect_platform(),
            made: 0,
        }
    }
}

impl Default for Crypt32 {
    fn default() -> Self {
        Crypt32::new()
    }
}

fn wide(s: &str) -> Vec<u16> {
    s.encode_utf16().chain(std::iter::once(0)).collect()
}

/// A Win32 error code or HRESULT as an HRESULT (`HRESULT_FROM_WIN32`).
fn hresult_from(code: u32) -> Hresult {
    if code == 0 || code & 0x8000_0000 != 0 {
        Hresult(code)
    } else {
        Hresult(0x8007_0000 | (code & 0xFFFF))
    }
}

/// The calling thread's last error, as an HRESULT. Call it right after the
/// call that failed.
fn last_error() -> Hresult {
    // SAFETY: reads the thread's last-error value; no arguments.
    hresult_from(unsafe { GetLastError() })
}

/// `OSVERSIONINFOW`, filled by `RtlGetVersion`.
#[repr(C)]
struct OsVersionInfo {
    size: u32,
    major: u32,
    minor: u32,
    build: u32,
    platform_id: u32,
    service_pack: [u16; 128],
}

type WineGetVersion = unsafe extern "C" fn() -> *const c_char;
type RtlGetVersion = unsafe extern "system" fn(*mut OsVersionInfo) -> i32;

/// Wine when ntdll exports `wine_get_version`; otherwise Windows, with the
/// version `RtlGetVersion` reports (`GetVersionExW` lies to programs without
/// a compatibility manifest).
fn detect_platform() -> Platform {
    let ntdll = wide("ntdll.dll");
    // SAFETY: a NUL-terminated module name; ntdll is mapped in every process,
    // and the handle is not reference-counted (nothing to release).
    let module = unsafe { GetModuleHandleW(ntdll.as_ptr()) };
    if module.is_null() {
        return Platform::windows("unknown");
    }
    // SAFETY: a valid module handle and a NUL-terminated export name.
    let wine = unsafe { GetProcAddress(module, c"wine_get_version".as_ptr().cast()) };
    if let Some(f) = wine {
        // SAFETY: Wine's ntdll exports `const char *wine_get_version(void)`;
        // both ABIs are the platform's C ABI on x86_64.
        let f: WineGetVersion = unsafe { std::mem::transmute(f) };
        // SAFETY: takes no arguments and returns a static string (or null).
        let p = unsafe { f() };
        let version = if p.is_null() {
            "unknown".to_owned()
        } else {
            // SAFETY: a non-null pointer to Wine's static NUL-terminated
            // version string.
            unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned()
        };
        return Platform::wine(&version);
    }
    // SAFETY: as above.
    let rtl = unsafe { GetProcAddress(module, c"RtlGetVersion".as_ptr().cast()) };
    let Some(rtl) = rtl else {
        return Platform::windows("unknown");
    };
    // SAFETY: ntdll's `NTSTATUS RtlGetVersion(PRTL_OSVERSIONINFOW)`, stdcall
    // (the system ABI).
    let rtl: RtlGetVersion = unsafe { std::mem::transmute(rtl) };
    let mut info = OsVersionInfo {
        size: std::mem::size_of::<OsVersionInfo>() as u32,
        major: 0,
        minor: 0,
        build: 0,
        platform_id: 0,
        service_pack: [0; 128],
    };
    // SAFETY: `info` is a writable OSVERSIONINFOW with its size set.
    if unsafe { rtl(&mut info) } != 0 {
        return Platform::windows("unknown");
    }
    let sp_len = info
        .service_pack
        .iter()
        .position(|&c| c == 0)
        .unwrap_or(128);
    let sp = String::from_utf16_lossy(&info.service_pack[..sp_len]);
    let mut version = format!("{}.{}.{}", info.major, info.minor, info.build);
    if !sp.is_empty() {
        version = format!("{version} {sp}");
    }
    Platform::windows(&version)
}

/// An open certificate store, closed on drop.
struct Store(HCERTSTORE);

impl Drop for Store {
    fn drop(&mut self) {
        // SAFETY: a store this guard opened, closed once; contexts still
        // referenced keep it alive inside crypt32.
        unsafe { CertCloseStore(self.0, 0) };
    }
}

fn memory_store() -> Result<Store, Hresult> {
    // SAFETY: the memory provider takes no parameter.
    let h = unsafe {
        CertOpenStore(
            CERT_STORE_PROV_MEMORY,
            0,
            0,
            CERT_STORE_CREATE_NEW_FLAG,
            null(),
        )
    };
    if h.is_null() {
        Err(last_error())
    } else {
        Ok(Store(h))
    }
}

/// Everything the crosscheck compares of one certificate context.
fn observe(ctx: *const CERT_CONTEXT) -> Observed {
    // SAFETY: `ctx` is a live context crypt32 returned; its encoded
    // certificate is `cbCertEncoded` readable bytes at `pbCertEncoded`.
    let der = unsafe {
        let c = &*ctx;
        std::slice::from_raw_parts(c.pbCertEncoded, c.cbCertEncoded as usize).to_vec()
    };
    Observed {
        der,
        hash: property(ctx, CERT_HASH_PROP_ID).map(|(buf, len)| bytes(&buf, len).to_vec()),
        friendly_name: property(ctx, CERT_FRIENDLY_NAME_PROP_ID)
            .map(|(buf, len)| bytes(&buf, len).to_vec()),
        key_provider: property(ctx, CERT_KEY_PROV_INFO_PROP_ID)
            .map(|(buf, len)| key_link(&buf, len)),
    }
}

/// The first `len` bytes of an 8-aligned property buffer.
fn bytes(buf: &[u64], len: usize) -> &[u8] {
    // SAFETY: `buf` holds at least `len` bytes (see `property`), and u8 has
    // no alignment or validity requirement.
    unsafe { std::slice::from_raw_parts(buf.as_ptr().cast::<u8>(), len) }
}

/// A property's value in an 8-aligned buffer (a `CRYPT_KEY_PROV_INFO` holds
/// pointers), with its length; `None` when the context has no such property.
fn property(ctx: *const CERT_CONTEXT, id: u32) -> Option<(Vec<u64>, usize)> {
    let mut size = 0u32;
    // SAFETY: a size query: no output buffer, `size` is writable.
    if unsafe { CertGetCertificateContextProperty(ctx, id, null_mut(), &mut size) } == 0 {
        return None;
    }
    let mut buf = vec![0u64; (size as usize).div_ceil(8).max(1)];
    // SAFETY: `buf` is writable for at least `size` bytes and 8-aligned.
    let ok = unsafe {
        CertGetCertificateContextProperty(ctx, id, buf.as_mut_ptr().cast::<c_void>(), &mut size)
    };
    (ok != 0).then_some((buf, size as usize))
}

/// Container and provider name out of a `CRYPT_KEY_PROV_INFO` crypt32 wrote
/// into `buf`: its string pointers point into the same buffer (checked).
fn key_link(buf: &[u64], len: usize) -> KeyLink {
    if len < std::mem::size_of::<CRYPT_KEY_PROV_INFO>() {
        return KeyLink {
            container: None,
            provider: None,
        };
    }
    // SAFETY: `buf` is 8-aligned and holds a whole CRYPT_KEY_PROV_INFO
    // (checked above), written by crypt32.
    let info = unsafe { &*buf.as_ptr().cast::<CRYPT_KEY_PROV_INFO>() };
    let region = bytes(buf, len);
    KeyLink {
        container: wide_in(region, info.pwszContainerName),
        provider: wide_in(region, info.pwszProvName),
    }
}

/// The NUL-terminated UTF-16 string at `p`, when `p` points inside `region`
/// (read within `region` only).
fn wide_in(region: &[u8], p: *const u16) -> Option<String> {
    if p.is_null() {
        return None;
    }
    let start = (p as usize).checked_sub(region.as_ptr() as usize)?;
    let units: Vec<u16> = region
        .get(start..)?
        .chunks_exact(2)
        .map(|c| u16::from_le_bytes([c[0], c[1]]))
        .take_while(|&u| u != 0)
        .collect();
    Some(String::from_utf16_lossy(&units))
}

/// Every certificate of `store`, in crypt32's order.
fn enumerate(store: &Store) -> Vec<Observed> {
    let mut out = Vec::new();
    let mut prev: *const CERT_CONTEXT = null();
    loop {
        // SAFETY: `prev` is null or the context the previous call returned,
        // which this call releases.
        let next = unsafe { CertEnumCertificatesInStore(store.0, prev) };
        if next.is_null() {
            return out;
        }
        out.push(observe(next));
        prev = next;
    }
}

/// An open registry key, closed on drop.
struct Key(HKEY);

impl Drop for Key {
    fn drop(&mut self) {
        // SAFETY: a key this guard opened, closed once.
        unsafe { RegCloseKey(self.0) };
    }
}

/// Creates (or opens) `path` under `parent`, volatile: it disappears at
/// logoff even if the process is killed before it deletes it.
fn create_key(parent: HKEY, path: &str) -> Result<Key, Hresult> {
    let name = wide(path);
    let mut key: HKEY = null_mut();
    // SAFETY: a NUL-terminated subkey name and a writable handle slot; no
    // class, security attributes or disposition.
    let rc = unsafe {
        RegCreateKeyExW(
            parent,
            name.as_ptr(),
            0,
            null(),
            REG_OPTION_VOLATILE,
            KEY_ALL_ACCESS,
            null(),
            &mut key,
            null_mut(),
        )
    };
    if rc == 0 {
        Ok(Key(key))
    } else {
        Err(hresult_from(rc))
    }
}

/// The private key under `HKEY_CURRENT_USER`: its whole tree is deleted on
/// drop, whatever happened in between.
struct TempKey {
    path: Vec<u16>,
    key: Option<Key>,
}

impl Drop for TempKey {
    fn drop(&mut self) {
        // Close our handle first (crypt32 closed its duplicate with the store).
        self.key.take();
        // SAFETY: a NUL-terminated path under HKEY_CURRENT_USER that this
        // process created; the errors are ignored (nothing else to do).
        unsafe { RegDeleteTreeW(HKEY_CURRENT_USER, self.path.as_ptr()) };
        let root = wide(KEY_ROOT);
        // SAFETY: as above; fails harmlessly while another run's key is in it.
        unsafe { RegDeleteKeyW(HKEY_CURRENT_USER, root.as_ptr()) };
    }
}

impl CryptoApi for Crypt32 {
    fn platform(&self) -> Platform {
        self.platform.clone()
    }

    fn add_element(&mut self, element: &[u8]) -> Result<Observed, Hresult> {
        let store = memory_store()?;
        let len = u32::try_from(element.len()).map_err(|_| Hresult::E_INVALIDARG)?;
        let mut ctx: *mut c_void = null_mut();
        // SAFETY: `element` is readable for `len` bytes during the call;
        // `ctx` receives a certificate context this function frees.
        let ok = unsafe {
            CertAddSerializedElementToStore(
                store.0,
                element.as_ptr(),
                len,
                CERT_STORE_ADD_ALWAYS,
                0,
                CERT_STORE_CERTIFICATE_CONTEXT_FLAG,
                null_mut(),
                &mut ctx,
            )
        };
        if ok == 0 {
            return Err(last_error());
        }
        let ctx = ctx.cast::<CERT_CONTEXT>().cast_const();
        if ctx.is_null() {
            return Err(Hresult::E_INVALIDARG);
        }
        let observed = observe(ctx);
        // SAFETY: the context the call returned, freed once.
        unsafe { CertFreeCertificateContext(ctx) };
        Ok(observed)
    }

    fn read_serialized_store(&mut self, bytes: &[u8]) -> Result<Vec<Observed>, Hresult> {
        let blob = CRYPT_INTEGER_BLOB {
            cbData: u32::try_from(bytes.len()).map_err(|_| Hresult::E_INVALIDARG)?,
            pbData: bytes.as_ptr().cast_mut(),
        };
        // SAFETY: the serialized provider reads the blob during the call only
        // and never writes through `pbData`.
        let h = unsafe {
            CertOpenStore(
                CERT_STORE_PROV_SERIALIZED,
                X509_ASN_ENCODING | PKCS_7_ASN_ENCODING,
                0,
                0,
                (&blob as *const CRYPT_INTEGER_BLOB).cast(),
            )
        };
        if h.is_null() {
            return Err(last_error());
        }
        Ok(enumerate(&Store(h)))
    }

    fn read_registry_store(
        &mut self,
        blobs: &[RegistryBlob<'_>],
    ) -> Result<Vec<Observed>, Hresult> {
        self.made += 1;
        let path = format!(
            r"{KEY_ROOT}\crosscheck-{}-{}",
            std::process::id(),
            self.made
        );
        let mut temp = TempKey {
            path: wide(&path),
            key: None,
        };
        let key = temp.key.insert(create_key(HKEY_CURRENT_USER, &path)?);
        let value = wide("Blob");
        for b in blobs {
            let sub = create_key(key.0, &format!(r"{}\{}", b.folder, b.name))?;
            let len = u32::try_from(b.blob.len()).map_err(|_| Hresult::E_INVALIDARG)?;
            // SAFETY: an open key, a NUL-terminated value name and `len`
            // readable bytes.
            let rc = unsafe {
                RegSetValueExW(sub.0, value.as_ptr(), 0, REG_BINARY, b.blob.as_ptr(), len)
            };
            if rc != 0 {
                return Err(hresult_from(rc));
            }
        }
        // SAFETY: the registry provider takes an open HKEY, which it
        // duplicates; read-only, so nothing is written back on close.
        let h = unsafe {
            CertOpenStore(
                CERT_STORE_PROV_REG,
                0,
                0,
                CERT_STORE_READONLY_FLAG,
                key.0.cast_const(),
            )
        };
        if h.is_null() {
            return Err(last_error());
        }
        let store = Store(h);
        let listed = enumerate(&store);
        drop(store);
        Ok(listed)
    }
}
