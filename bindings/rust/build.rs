// SPDX-License-Identifier: MIT
//! Links libhyp.so.0: from $LIBHYP_LIB_DIR if set (a build tree's lib/ or an installed libdir),
//! else wherever the linker finds -lhyp.
fn main() {
    println!("cargo:rerun-if-env-changed=LIBHYP_LIB_DIR");
    if let Ok(dir) = std::env::var("LIBHYP_LIB_DIR") {
        println!("cargo:rustc-link-search=native={}", dir);
    }
    println!("cargo:rustc-link-lib=dylib=hyp");
}
