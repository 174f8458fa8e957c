#include "cli/masker.h"


#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

namespace assent::cli {
namespace {

// Feeds `text` to a fresh Masker in the chunks given by `cuts` (sorted positions).
std::string MaskInChunks(const std::vector<std::string>& values, const std::string& text,
                         std::vector<size_t> cuts) {
  Masker m(values);
  std::sort(cuts.begin(), cuts.end());
  std::string out;
  size_t pos = 0;
  for (size_t c : cuts) {
    c = std::min(c, text.size());
    if (c < pos) continue;
    out += m.Feed(std::string_view(text).substr(pos, c - pos));
    pos = c;
  }
  out += m.Feed(std::string_view(text).substr(pos));
  out += m.Finish();
  return out;
}

std::string MaskAtOnce(const std::vector<std::string>& values, const std::string& text) {
  Masker m(values);
  std::string out = m.Feed(text);
  return out + m.Finish();
}

// Feed then Finish, in that order (the operands of + are unsequenced).
std::string All(Masker& m, const std::string& text) {
  std::string out = m.Feed(text);
  return out + m.Finish();
}

// Text built from random pieces, copies of the values and prefixes/suffixes of them,
// so that occurrences (and near misses) are frequent.
rc::Gen<std::string> TextAround(const std::vector<std::string>& values) {
  return rc::gen::map(
      rc::gen::container<std::vector<std::pair<int, std::string>>>(
          rc::gen::pair(rc::gen::inRange(0, 4), rc::gen::arbitrary<std::string>())),
      [values](const std::vector<std::pair<int, std::string>>& pieces) {
        std::string text;
        size_t k = 0;
        for (const auto& [kind, filler] : pieces) {
          const std::string& v = values[k++ % values.size()];
          switch (kind) {
            case 0: text += filler; break;
            case 1: text += v; break;
            case 2: text += v.substr(0, filler.size() % (v.size() + 1)); break;
            default: text += v.substr(filler.size() % (v.size() + 1)); break;
          }
        }
        return text;
      });
}

RC_GTEST_PROP(MaskerProperty, ValueNeverAppearsWhateverTheChunking, ()) {
  const auto value = *rc::gen::nonEmpty(rc::gen::arbitrary<std::string>());
  const auto text = *TextAround({value});
  const auto cuts = *rc::gen::container<std::vector<size_t>>(
      rc::gen::inRange<size_t>(0, text.size() + 1));
  std::string out = MaskInChunks({value}, text, cuts);
  RC_ASSERT(out.find(value) == std::string::npos);
  // Chunking never changes the result: streaming equals masking the whole text.
  RC_ASSERT(out == MaskAtOnce({value}, text));
}

RC_GTEST_PROP(MaskerProperty, TextWithoutTheValuePassesUnchanged, ()) {
  const auto value = *rc::gen::nonEmpty(rc::gen::arbitrary<std::string>());
  const auto text = *rc::gen::arbitrary<std::string>();
  RC_PRE(text.find(value) == std::string::npos);
  const auto cuts = *rc::gen::container<std::vector<size_t>>(
      rc::gen::inRange<size_t>(0, text.size() + 1));
  RC_ASSERT(MaskInChunks({value}, text, cuts) == text);
}

RC_GTEST_PROP(MaskerProperty, SeveralValuesNeverAppear, ()) {
  const auto values = *rc::gen::container<std::vector<std::string>>(
      *rc::gen::inRange<size_t>(1, 4), rc::gen::nonEmpty(rc::gen::arbitrary<std::string>()));
  const auto text = *TextAround(values);
  const auto cuts = *rc::gen::container<std::vector<size_t>>(
      rc::gen::inRange<size_t>(0, text.size() + 1));
  std::string out = MaskInChunks(values, text, cuts);
  for (const auto& v : values) RC_ASSERT(out.find(v) == std::string::npos);
  RC_ASSERT(out == MaskAtOnce(values, text));
}

RC_GTEST_PROP(MaskerProperty, HoldsBackLessThanTheLongestValue, ()) {
  const auto value = *rc::gen::nonEmpty(rc::gen::arbitrary<std::string>());
  const auto text = *TextAround({value});
  Masker m({value});
  for (char c : text) {
    m.Feed(std::string(1, c));
    RC_ASSERT(m.held() < value.size());
  }
}

TEST(Masker, MasksAValueSplitAcrossTwoReads) {
  Masker m({"hunter2"});
  std::string out = m.Feed("password: hun");
  EXPECT_EQ(out, "password: ") << "the possible start of the value is held back";
  out += m.Feed("ter2 ok\n");
  out += m.Finish();
  EXPECT_EQ(out, "password: ******** ok\n");
}

TEST(Masker, ReleasesAHeldPrefixThatDidNotBecomeTheValue) {
  Masker m({"hunter2"});
  EXPECT_EQ(m.Feed("hunt"), "");
  EXPECT_EQ(m.Feed("ing\n"), "hunting\n");
  EXPECT_EQ(m.Finish(), "");
}

TEST(Masker, FinishFlushesAnUnfinishedPrefix) {
  Masker m({"hunter2"});
  EXPECT_EQ(m.Feed("xhunte"), "x");
  EXPECT_EQ(m.Finish(), "hunte");
}

TEST(Masker, PromptWithoutNewlineIsNotDelayed) {
  Masker m({"hunter2"});
  EXPECT_EQ(m.Feed("Continue? [y/N] "), "Continue? [y/N] ");
}

TEST(Masker, LongestValueWinsWhenOneContainsAnother) {
  Masker m({"abc", "xabcx"});
  EXPECT_EQ(All(m, "1xabcx2abc3"), "1********2********3");
}

TEST(Masker, MaskByteIsNotInAnyValue) {
  Masker m({"a*b", "#x"});
  EXPECT_EQ(m.mask().find_first_of("a*b#x"), std::string::npos);
  EXPECT_EQ(All(m, "**a*b**"), "**" + m.mask() + "**");
}

TEST(Masker, OverlappingOccurrencesLeaveNoValueBehind) {
  Masker m({"aba"});
  std::string out = All(m, "ababa");
  EXPECT_EQ(out.find("aba"), std::string::npos);
}

TEST(Masker, NoValuesMeansPassThrough) {
  Masker m({});
  EXPECT_EQ(m.Feed("anything"), "anything");
  Masker empty({""});
  EXPECT_EQ(empty.Feed("x"), "x") << "an empty value cannot be masked and is ignored";
}

TEST(Masker, BinaryValuesWithNulBytes) {
  std::string v("a\0b", 3);
  Masker m({v});
  std::string text = std::string("x") + v + "y";
  EXPECT_EQ(All(m, text), "x" + m.mask() + "y");
}

}  // namespace
}  // namespace assent::cli
