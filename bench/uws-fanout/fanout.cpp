// A WebSocket fan-out server on uWebSockets' built-in pub/sub, the C++ reference
// for `bench/fanout.sh` (`switchboard bench --pubsub uws`). Built by build.sh
// against the uWebSockets/uSockets sources in ../../../shared/anchors/uwebsockets
// (nothing of theirs is committed here).
//
// usage: uws-fanout PORT        (prints "listening on PORT" once ready)
//
// Protocol, on any path:
//   client -> server, text   "sub <topic>"            subscribe this connection to <topic>;
//                                                      the server answers text "subscribed <topic>"
//   client -> server, binary "pub <topic> <payload>"  publish <payload> (every byte after the
//                                                      second space) to <topic>
//   server -> client, binary "<payload>"              one publication on a subscribed topic
// Topics contain no spaces. Anything else closes the connection with code 1008.
//
// Settings chosen so that the server never drops a publication in a benchmark:
// 16 MiB per-connection backpressure without closing, 16 MiB messages, no
// compression, idle timeout off (the load generator sends no pings), one
// thread (uWS runs one event loop per thread; this server starts only one).
#include "App.h"

#include <cstdlib>
#include <iostream>
#include <string_view>

namespace {
struct Connection {};

uWS::App *app = nullptr;

void handle(uWS::WebSocket<false, true, Connection> *ws, std::string_view message,
            uWS::OpCode opCode) {
  constexpr std::string_view sub = "sub ";
  constexpr std::string_view pub = "pub ";
  if (opCode == uWS::OpCode::TEXT && message.substr(0, sub.size()) == sub) {
    std::string_view topic = message.substr(sub.size());
    ws->subscribe(topic);
    std::string reply = "subscribed ";
    reply.append(topic);
    ws->send(reply, uWS::OpCode::TEXT);
    return;
  }
  if (message.substr(0, pub.size()) == pub) {
    std::string_view rest = message.substr(pub.size());
    std::size_t space = rest.find(' ');
    if (space != std::string_view::npos) {
      app->publish(rest.substr(0, space), rest.substr(space + 1), uWS::OpCode::BINARY);
      return;
    }
  }
  ws->end(1008, "expected \"sub <topic>\" or \"pub <topic> <payload>\"");
}
}  // namespace

int main(int argc, char **argv) {
  int port = argc > 1 ? std::atoi(argv[1]) : 9001;
  uWS::App server;
  app = &server;
  server
      .ws<Connection>("/*", {.compression = uWS::DISABLED,
                             .maxPayloadLength = 16 * 1024 * 1024,
                             .idleTimeout = 0,
                             .maxBackpressure = 16 * 1024 * 1024,
                             .closeOnBackpressureLimit = false,
                             .resetIdleTimeoutOnSend = false,
                             .sendPingsAutomatically = false,
                             .message = handle})
      .listen(port,
              [port](auto *listen_socket) {
                if (listen_socket) {
                  std::cout << "listening on " << port << std::endl;
                } else {
                  std::cerr << "cannot listen on port " << port << std::endl;
                  std::exit(1);
                }
              })
      .run();
}
