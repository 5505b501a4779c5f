// NIO client and server.
