/*  The Criterion runner (libcriterion 2.4) leaks a few small blocks of its
    own when it runs tests in parallel (seen from 7 blocks of 48 bytes, in
    unit tests and integration tests alike); they are not ours to fix, and
    LeakSanitizer would fail every sanitizer build for them. This hook is
    read by LeakSanitizer only, in the test binaries only (every one links
    this file; the zmr binaries under test do not). */
const char *__lsan_default_suppressions (void);
const char *
__lsan_default_suppressions (void)
{
    return "leak:libcriterion.so\n";
}
