#include "base/wipe.h"

#include <gtest/gtest.h>

namespace assent {
namespace {

using nlohmann::json;

TEST(Wipe, AStringIsOverwrittenOverItsWholeCapacityThenCleared) {
  std::string s(100, 's');
  s.resize(10);  // the 90 bytes beyond the size still hold 's'
  const char* data = s.data();
  const size_t capacity = s.capacity();
  WipeString(s);
  EXPECT_TRUE(s.empty());
  ASSERT_EQ(s.data(), data);  // same block: clear() keeps the allocation
  for (size_t i = 0; i < capacity; ++i) ASSERT_EQ(data[i], '\0') << i;
}

TEST(Wipe, EveryStringValueInADocumentIsOverwrittenAndKeysStay) {
  json doc = json::parse(
      R"({"method":"secret.put","params":{"name":"A","value":"hunter2-hunter2-hunter2",)"
      R"("list":["x-secret-in-an-array",{"deep":"another-secret-value"}]},"id":1})");
  std::vector<std::pair<const char*, size_t>> blocks;
  for (const char* p : {"/params/value", "/params/list/0", "/params/list/1/deep"}) {
    const auto& s = doc.at(json::json_pointer(p)).get_ref<const std::string&>();
    blocks.emplace_back(s.data(), s.size());
  }
  WipeJsonStrings(doc);
  EXPECT_EQ(doc["params"]["value"], "");
  EXPECT_EQ(doc["params"]["list"][1]["deep"], "");
  EXPECT_EQ(doc["method"], "");
  EXPECT_EQ(doc["id"], 1);
  EXPECT_TRUE(doc["params"].contains("value"));
  for (auto [data, size] : blocks)
    for (size_t i = 0; i < size; ++i) ASSERT_EQ(data[i], '\0');
}

TEST(Wipe, ADeepDocumentDoesNotExhaustTheStack) {
  json doc = "leaf";
  for (int i = 0; i < 100000; ++i) doc = json::array({std::move(doc)});
  WipeJsonStrings(doc);
  const json* v = &doc;
  while (v->is_array()) v = &(*v)[0];
  EXPECT_EQ(*v, "");
}

}  // namespace
}  // namespace assent
