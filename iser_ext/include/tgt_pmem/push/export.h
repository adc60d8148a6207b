// SPDX-License-Identifier: GPL-2.0-only
// What libtgtpmem-push.so exports. The project compiles with -fvisibility=hidden; the shared
// library's own build (iser_ext/CMakeLists.txt) defines TGTPMEM_PUSH_BUILDING_SHARED, which
// gives the declarations marked TGTPMEM_PUSH_API default visibility. Everywhere else (an
// application, the static libraries inside tgtd's modules and the tool) the mark is empty:
// bs_pmem.so, which links the protocol code too, exports nothing more because of it.
#pragma once

#if defined(TGTPMEM_PUSH_BUILDING_SHARED)
#define TGTPMEM_PUSH_API __attribute__((visibility("default")))
#else
#define TGTPMEM_PUSH_API
#endif
