#pragma once
// The subcommands of the promowatch binary, each a thin function over the
// runtime. main.cc parses flags into these structs.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "pipeline/decode.h"
#include "pipeline/generator.h"

namespace promowatch {

struct ReplayArgs {
  std::vector<std::string> inputs;
  std::string output;
  std::string dead_letter;             // empty: rejected records are counted only... and logged
  std::string late_output;             // empty: late records go to dead_letter
  std::string config;
  std::string state_dir;               // empty: a temporary directory, removed at the end
  std::optional<WireFormat> format;    // unset: detected per file
  std::optional<int64_t> max_out_of_orderness_ms;
};
int RunReplay(const ReplayArgs& args);

struct LiveArgs {
  std::string config;
  std::string brokers;
  std::string group;
  std::string state_dir;
  std::string results_format;  // protobuf | json; empty: from the config
  std::string metrics_address;  // empty: from the config
};
int RunLive(const LiveArgs& args);

struct MockKafkaArgs {
  int brokers = 1;
  int partitions = 4;
};
int RunMockKafka(const MockKafkaArgs& args);

struct GenArgs {
  std::string output;
  // Instead of one file: every record in a file of its own in this directory,
  // named NNNNNNNNN.KIND.{json,bin} (KIND: click, order, spend, bad), for
  // `kcat -P -t TOPIC FILE...`, which sends each file as one message.
  std::string split_dir;
  WireFormat format = WireFormat::kBinary;
  GeneratorOptions options;
};
int RunGen(const GenArgs& args);

}  // namespace promowatch
