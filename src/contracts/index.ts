/** Types shared with clients (SDK, CLI, MCP bridge): REST shapes and the socket.io event map. */
export * from './rest';
export * from './socket-events';
