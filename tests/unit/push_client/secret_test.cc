// SPDX-License-Identifier: GPL-2.0-only
// tgtpmem-push --chap-secret-file (iser_ext/tools/push_secret.h) on real files.
#include "push_secret.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <pthread.h>
#include <sys/stat.h>
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <fstream>
#include <string>
#include <string_view>
#include <thread>

#include "scratch_dir.h"

namespace tgt_pmem::push::tool {
namespace {

class SecretFile : public ::testing::Test {
 protected:
  // A file holding contents, with the given permission bits (the owner's only by default,
  // as the tool requires).
  std::string file(const std::string& contents, mode_t mode = 0600) {
    const std::string p = scratch_.file("secret" + std::to_string(n_++));
    std::ofstream(p, std::ios::binary) << contents;
    EXPECT_EQ(::chmod(p.c_str(), mode), 0) << p;
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

// Catches: a secret file that other users can read (so they know the secret) or write (so they
// choose it) being used, as ssh refuses such a private key. The error names the file, its mode
// and the fix.
TEST_F(SecretFile, AFileOpenToGroupOrOthersIsRefused) {
  ASSERT_FALSE(dir_.empty());
  for (const mode_t mode : {0644, 0640, 0604, 0620, 0602, 0660, 0666, 0610, 0601}) {
    const std::string p = file("s3cret-s3cret\n", mode);
    auto r = read_secret_file(p);
    ASSERT_FALSE(r) << std::oct << mode;
    char octal[8];
    std::snprintf(octal, sizeof octal, "%04o", static_cast<unsigned>(mode));
    EXPECT_NE(r.error().find(p), std::string::npos) << r.error();
    EXPECT_NE(r.error().find(octal), std::string::npos) << r.error();
    EXPECT_NE(r.error().find("chmod 600"), std::string::npos) << r.error();
    EXPECT_EQ(r.error().find("s3cret"), std::string::npos) << "the secret leaked";
  }
  EXPECT_EQ(read_secret_file(file("s3cret-s3cret\n", 0600)), "s3cret-s3cret");
  EXPECT_EQ(read_secret_file(file("s3cret-s3cret\n", 0400)), "s3cret-s3cret");
}

// Catches: a FIFO, a device or a directory taken for the secret file (a FIFO blocks the tool
// until someone writes to it, and then feeds it whatever its writer chose).
TEST_F(SecretFile, OnlyARegularFileIsASecretFile) {
  ASSERT_FALSE(dir_.empty());
  const std::string fifo = scratch_.file("fifo");
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  // A writer that offers a well-formed secret as soon as a reader opens the FIFO, so that a
  // reader that accepts a FIFO gets it instead of hanging the test.
  std::thread writer([&fifo] {
    sigset_t pipe_signal;
    sigemptyset(&pipe_signal);
    sigaddset(&pipe_signal, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipe_signal, nullptr);  // a reader gone: EPIPE, not a kill
    const int fd = ::open(fifo.c_str(), O_WRONLY | O_CLOEXEC);
    if (fd < 0) return;
    const std::string_view secret = "fifo-secret\n";
    [[maybe_unused]] auto n = ::write(fd, secret.data(), secret.size());
    ::close(fd);
  });
  auto r = read_secret_file(fifo);
  // Releases the writer if read_secret_file() never opened the FIFO.
  const int release = ::open(fifo.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  writer.join();
  if (release >= 0) ::close(release);
  ASSERT_FALSE(r) << "read from a FIFO: " << *r;
  EXPECT_NE(r.error().find("not a regular file"), std::string::npos) << r.error();
  EXPECT_NE(r.error().find(fifo), std::string::npos) << r.error();
  auto d = read_secret_file(dir_);
  ASSERT_FALSE(d);
  EXPECT_NE(d.error().find("not a regular file"), std::string::npos) << d.error();
  EXPECT_FALSE(read_secret_file("/dev/null"));
  // A symbolic link to a good secret file is followed, as ssh does for keys.
  const std::string target = file("s3cret-s3cret\n");
  const std::string link = scratch_.file("link");
  ASSERT_EQ(::symlink(target.c_str(), link.c_str()), 0);
  EXPECT_EQ(read_secret_file(link), "s3cret-s3cret");
}

}  // namespace
}  // namespace tgt_pmem::push::tool
