// Files the daemon owns in its data directory: written atomically, removed on exit.
//
// WriteFileAtomic writes a sibling temporary file, fsyncs it and renames it into place,
// so readers (the CLI, the conformance suite) never see a half-written file.
#pragma once

#include <string>

#include "base/status.h"

namespace assent::daemon {

Status WriteFileAtomic(const std::string& path, const std::string& content, int mode);
// Creates the directory (and parents) and sets its mode; refuses a path that exists and
// is not a directory.
Status EnsurePrivateDir(const std::string& path);

}  // namespace assent::daemon
