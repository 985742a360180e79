#include "events/command.hpp"

#include <gtest/gtest.h>

#include <atomic>

namespace equalis::events {
namespace {

TEST(Command, PassesTheEventInTheEnvironment) {
  Event e;
  e.event = "alarm_raised";
  e.level = "alarm";
  e.string_number = 2;
  e.block_number = 17;
  e.value = 14.5;
  e.message = "raw message";
  const auto env = eventEnvironment(e, "Room 1", "expanded text");
  const auto r = runCommand(
      "echo \"$EQUALIS_EVENT/$EQUALIS_LEVEL/$EQUALIS_STRING/$EQUALIS_BLOCK/$EQUALIS_VALUE/"
      "$EQUALIS_THRESHOLD/$EQUALIS_MESSAGE/$EQUALIS_SITE/$EQUALIS_SEVERITY\"",
      env, 5000);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->exit_status, 0);
  EXPECT_FALSE(r->timed_out);
  EXPECT_EQ(r->first_line, "alarm_raised/alarm/2/17/14.5//expanded text/Room 1/2");
  EXPECT_EQ(describe(*r, 5000), "exit 0: alarm_raised/alarm/2/17/14.5//expanded text/Room 1/2");
}

TEST(Command, ExitStatusAndStderrFirstLine) {
  const auto r = runCommand("echo oops >&2; echo second; exit 3", {}, 5000);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->exit_status, 3);
  EXPECT_EQ(r->first_line, "oops");
  EXPECT_EQ(describe(*r, 5000), "exit 3: oops");
}

TEST(Command, TimeoutKillsTheProcessGroup) {
  const auto r = runCommand("sleep 30 & sleep 30; echo never", {}, 300);
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->timed_out);
  EXPECT_NE(r->signal, 0);
  EXPECT_EQ(describe(*r, 300), "killed after the 0.3 s timeout");
}

TEST(Command, AbortFlagEndsIt) {
  std::atomic<bool> abort{true};
  const auto r = runCommand("sleep 30", {}, 60000, &abort);
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(r->timed_out);
  EXPECT_EQ(r->signal, 15);
}

TEST(Command, MissingProgram) {
  const auto r = runCommand("/nonexistent/program-xyz", {}, 5000);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->exit_status, 127);
  EXPECT_FALSE(r->first_line.empty());
}

}  // namespace
}  // namespace equalis::events
