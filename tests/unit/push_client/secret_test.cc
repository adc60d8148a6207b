// SPDX-License-Identifier: GPL-2.0-only
// tgtpmem-push --chap-secret-file (iser_ext/tools/push_secret.h) on real files.
#include "push_secret.h"

#include <gtest/gtest.h>

#include <fstream>
#include <string>

#include "scratch_dir.h"

namespace tgt_pmem::push::tool {
namespace {

class SecretFile : public ::testing::Test {
 protected:
  std::string file(const std::string& contents) {
    const std::string p = scratch_.file("secret" + std::to_string(n_++));
    std::ofstream(p, std::ios::binary) << contents;
    return p;
  }
  testing::ScratchDir scratch_{"tgtpmem-secret"};
  const std::string& dir_ = scratch_.path();
  int n_ = 0;
};

TEST_F(SecretFile, IsTheOneLineLessItsNewline) {
  ASSERT_FALSE(dir_.empty());
  EXPECT_EQ(read_secret_file(file("s3cret-s3cret\n")), "s3cret-s3cret");
  EXPECT_EQ(read_secret_file(file("s3cret-s3cret\r\n")), "s3cret-s3cret");
  EXPECT_EQ(read_secret_file(file("no newline")), "no newline");
  EXPECT_EQ(read_secret_file(file(" spaces  kept ")), " spaces  kept ");
  EXPECT_EQ(read_secret_file(file(std::string(kMaxSecretBytes, 'x') + "\n")),
            std::string(kMaxSecretBytes, 'x'));
}

TEST_F(SecretFile, BadFilesAreRefusedWithoutShowingTheSecret) {
  ASSERT_FALSE(dir_.empty());
  auto missing = read_secret_file(dir_ + "/nope");
  ASSERT_FALSE(missing);
  EXPECT_NE(missing.error().find("No such file"), std::string::npos) << missing.error();
  EXPECT_FALSE(read_secret_file(file("")));
  EXPECT_FALSE(read_secret_file(file("\n")));
  auto two = read_secret_file(file("first-secret\nsecond\n"));
  ASSERT_FALSE(two);
  EXPECT_NE(two.error().find("more than one line"), std::string::npos) << two.error();
  EXPECT_EQ(two.error().find("first-secret"), std::string::npos) << "the secret leaked";
  auto lng = read_secret_file(file(std::string(kMaxSecretBytes + 1, 'y')));
  ASSERT_FALSE(lng);
  EXPECT_NE(lng.error().find("longer than"), std::string::npos) << lng.error();
  EXPECT_FALSE(read_secret_file(dir_)) << "a directory is no secret file";
}

}  // namespace
}  // namespace tgt_pmem::push::tool
