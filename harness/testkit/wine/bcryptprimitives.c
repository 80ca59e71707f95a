/*
 * A stand-in for bcryptprimitives.dll on Wine releases that lack it (Wine 8
 * and older). Rust's standard library for Windows (since Rust 1.78) imports
 * ProcessPrng from bcryptprimitives.dll to seed its hash maps, so without
 * this DLL a Rust program does not even start under such a Wine
 * (err:module:import_dll ... bcryptprimitives.dll not found, c0000135).
 *
 * ProcessPrng(buffer, length) fills the buffer with random bytes and
 * returns TRUE; here the bytes come from advapi32's RtlGenRandom
 * (SystemFunction036), which Wine has always had. Not for production use:
 * it exists so that certmig.exe and its Windows tests run under an old Wine.
 *
 * Build and install: harness/testkit/wine/install-bcryptprimitives.sh
 */
#include <windows.h>

BOOLEAN WINAPI SystemFunction036(PVOID buffer, ULONG length);

BOOL WINAPI ProcessPrng(PBYTE buffer, SIZE_T length)
{
    while (length > 0)
    {
        ULONG chunk = length > 0x40000000 ? 0x40000000 : (ULONG)length;
        if (!SystemFunction036(buffer, chunk))
            return FALSE;
        buffer += chunk;
        length -= chunk;
    }
    return TRUE;
}
