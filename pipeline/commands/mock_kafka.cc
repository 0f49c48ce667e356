// promowatch mock-kafka: librdkafka's mock cluster as a process of its own.

#include <pthread.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <string>
#include <thread>

#include "pipeline/commands/commands.h"
#include "pipeline/commands/produce_sale.h"
#include "pipeline/config/config.h"
#include "pipeline/generator/generator.h"
#include "pipeline/io/kafka.h"
#include "pipeline/live/live_runner.h"
#include "pipeline/runtime/clock.h"
#include "pipeline/runtime/signals.h"
#include "pipeline/serve/metrics.h"

namespace promowatch {

int RunMockKafka(const MockKafkaArgs& args) {
  // Block the stop signals in every thread (librdkafka's included) and wait
  // for them here.
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  KafkaOptions defaults;
  std::vector<std::string> topics = defaults.input_topics;
  topics.push_back(defaults.results_topic);
  topics.push_back(defaults.dead_letter_topic);
  topics.push_back(defaults.alerts_topic);
  topics.push_back(defaults.user_tags_topic);
  topics.push_back(defaults.changelog_topic);
  topics.push_back(defaults.repartition_topic);
  topics.push_back(defaults.partials_topic);
  topics.insert(topics.end(), args.extra_topics.begin(), args.extra_topics.end());
  auto cluster = MockKafkaCluster::Start(args.brokers, args.partitions, topics);
  if (!cluster.ok()) {
    spdlog::error("msg=\"cannot start the mock cluster\" error=\"{}\"",
                  std::string(cluster.status().message()));
    return 1;
  }
  std::printf("%s\n", (*cluster)->bootstrap_servers().c_str());
  std::fflush(stdout);
  spdlog::info("msg=\"mock kafka running\" bootstrap={} brokers={} partitions={} topics={}",
               (*cluster)->bootstrap_servers(), args.brokers, args.partitions, topics.size());
  std::thread control;
  if (args.control) {
    // (Detached at exit: it may sit in a read of a stdin nobody closes.)
    control = std::thread([c = cluster->get()] {
      for (std::string line; std::getline(std::cin, line);) {
        if (line.empty()) continue;
        const absl::Status s = c->Apply(line);
        spdlog::info("msg=\"fault command\" command=\"{}\" ok={}", line, s.ok());
        if (s.ok()) {
          std::printf("ok %s\n", line.c_str());
        } else {
          std::printf("error %s\n", std::string(s.message()).c_str());
        }
        std::fflush(stdout);
      }
    });
    control.detach();
  }
  int sig = 0;
  sigwait(&set, &sig);
  spdlog::info("msg=\"mock kafka stopping\" signal={}", sig);
  return 0;
}

Subcommand AddMockKafkaCommand(CLI::App& app) {
  auto args = std::make_shared<MockKafkaArgs>();
  auto* cmd = app.add_subcommand(
      "mock-kafka",
      "An embedded Kafka cluster (librdkafka's mock brokers) on 127.0.0.1 with "
      "promowatch's topics; prints its bootstrap address, runs until SIGINT/SIGTERM. "
      "It keeps the newest 5 MiB of each partition (librdkafka's limit) and deletes "
      "older records, as retention would");
  cmd->add_option("--brokers", args->brokers, "Number of brokers")
      ->capture_default_str()
      ->check(CLI::Range(1, 9));
  cmd->add_flag("--control", args->control,
                "Read fault commands on stdin, one per line, each answered on stdout: down "
                "BROKER, up BROKER, rtt BROKER MS, errors API COUNT CODE (e.g. errors Fetch 5 "
                "NOT_LEADER_FOR_PARTITION), leader TOPIC PARTITION BROKER");
  cmd->add_option("--topic", args->extra_topics,
                  "Create this topic too (repeatable), e.g. an "
                  "input of type event");
  cmd->add_option("--partitions", args->partitions, "Partitions per topic")
      ->capture_default_str()
      ->check(CLI::Range(1, 64));
  return {cmd, [args] { return RunMockKafka(*args); }};
}

}  // namespace promowatch
