/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The check both modules (bs_pmem.so, lld_srp.so) make in register_bs_module before they
 * register anything with tgtd.
 *
 * The rule: a module shares tgtd's internal structs (struct scsi_cmd, struct
 * backingstore_template, struct tgt_driver, ...) through the headers of tgt's usr/ directory,
 * so it runs only in a tgtd of the tgt release whose headers it was compiled with. A release
 * is what tgtd -V prints (tgt's Makefile VERSION, "1.0.85"). Distribution revisions of one
 * release (Debian's 1:1.0.85-1+deb12u1, Fedora's 1.0.85-3) are the same ABI as long as their
 * patches leave the headers in usr/ alone; the build checks that for the Debian source it uses (CMake),
 * the packages depend on that release only, and this check catches whatever else loads the
 * module (a tgtd built by hand, a forced install).
 *
 * tgtd exports no version symbol: the check runs the executable of this very process,
 * "/proc/self/exe -V" (tgtd prints its TGT_VERSION and exits before it does anything else),
 * with posix_spawn (no fork of a threaded tgtd), the signal mask and dispositions reset, no
 * inherited descriptor but a pipe for its output, and a deadline (5 s; it takes about 1 ms).
 * The child is always waited for: no zombie is left, also under systemd. /proc/self/exe is
 * the running executable even after a package upgrade replaced the file on disk.
 */
#ifndef TGT_PMEM_TGT_ABI_CHECK_H
#define TGT_PMEM_TGT_ABI_CHECK_H

#ifdef __cplusplus
extern "C" {
#define TGTPMEM_TGT_ABI_NOEXCEPT noexcept
#else
#define TGTPMEM_TGT_ABI_NOEXCEPT
#endif

/*
 * NULL if the tgtd running this process is tgt release built_for ("1.0.85"): register.
 * Otherwise the module must not register: the result is one line for tgtd's log (no
 * trailing newline) that names module, the release it was built for, what this tgtd is (or
 * why that is unknown) and what to do. The string is static storage of the calling module,
 * valid until its next call. Call it from tgtd's main thread (register_bs_module); never
 * throws, never fails otherwise (an unknown version is a refusal).
 */
const char *tgtpmem_tgt_abi_refusal(const char *module, const char *built_for) TGTPMEM_TGT_ABI_NOEXCEPT;

#ifdef __cplusplus
}
#endif
#undef TGTPMEM_TGT_ABI_NOEXCEPT

#endif
