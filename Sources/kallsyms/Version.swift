/// The release this source tree is: the git tag a dependent package names in `from:`, and what
/// `kallsyms --version` prints (with the commit, see the BuildInfo plugin).
let kallsymsVersion = "0.1.0"
