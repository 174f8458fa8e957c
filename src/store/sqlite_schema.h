// The SQLite schema of Assent as an ordered list of migrations.
//
// Migration i (0-based) moves a database from user_version i to i+1. Never edit a
// migration that has shipped: append a new one. The states allowed in CHECK constraints
// are the spec's RequestState / GrantState enums (spec/schemas/common.json).
//
// Thread safety: immutable data.
#pragma once

#include <vector>

namespace assent::store {

const std::vector<const char*>& SqliteMigrations();

}  // namespace assent::store
