import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import type { RawData, WebSocket } from 'ws';
import {
  RealtimeClientMessage,
  RealtimeCloseCode,
  type RealtimeServerMessage,
  type RealtimeTopic,
} from '#contracts';
import { problem, sendProblem } from '../../../errors.ts';

/**
 * Why a handshake is refused, as [HTTP status, detail], or undefined to accept it. A browser's
 * `Origin` must be one of CORS_ORIGINS, as for the HTTP routes (clients that are not browsers send
 * none). Authentication goes here too: verify the caller's token and keep who it is on the request,
 * for `mayRead` below.
 */
function refuseHandshake(request: FastifyRequest): [number, string] | undefined {
  const { origin } = request.headers;
  if (origin !== undefined && !request.server.config.CORS_ORIGINS.includes(origin)) {
    return [403, `The origin ${origin} is not allowed (CORS_ORIGINS).`];
  }
  return undefined;
}

/** Whether the caller may hear a topic: every topic is public until authentication filters them. */
function mayRead(_request: FastifyRequest, _topic: RealtimeTopic): boolean {
  return true;
}

function parse(data: RawData, isBinary: boolean) {
  if (isBinary) return { error: 'Send JSON text frames, not binary ones.' } as const;
  let value: unknown;
  try {
    value = JSON.parse(data.toString());
  } catch {
    return { error: 'The message is not JSON.' } as const;
  }
  const result = RealtimeClientMessage.safeParse(value);
  if (!result.success) {
    const issue = result.error.issues[0];
    return { error: `${issue?.path.join('.') || 'message'}: ${issue?.message}` } as const;
  }
  return { message: result.data } as const;
}

/**
 * GET /v1/realtime: a WebSocket on which a client subscribes to topics and hears their events,
 * whichever instance published them (src/plugins/app/realtime.ts). Messages are the contracts
 * package's RealtimeClientMessage and RealtimeServerMessage. Limits, from the configuration:
 * sockets per client address (the handshake is answered 429), subscriptions per socket, message
 * size (1009), and bytes queued for a socket that does not read (closed with 1013, try again
 * later: the client did nothing wrong but fall behind, and should reconnect and re-read the state).
 * A socket that misses a ping (REALTIME_HEARTBEAT_MS) is dropped.
 */
const realtimeRoutes: FastifyPluginAsync = async (fastify) => {
  const config = fastify.config;
  const socketsPerClient = new Map<string, number>();
  const answeredPing = new WeakSet<WebSocket>();

  // One timer for every socket: a socket that has not answered the last ping is gone (a dead peer
  // or a dropped network sends no close frame).
  const heartbeat = setInterval(() => {
    for (const socket of fastify.websocketServer.clients) {
      if (!answeredPing.has(socket)) {
        socket.terminate();
        continue;
      }
      answeredPing.delete(socket);
      socket.ping();
    }
  }, config.REALTIME_HEARTBEAT_MS);
  fastify.addHook('onClose', async () => clearInterval(heartbeat));

  fastify.route({
    method: 'GET',
    url: '/',
    // Not an HTTP operation: it stays out of the OpenAPI document (see the README).
    schema: { hide: true },
    preValidation: async (request, reply) => {
      const refusal = refuseHandshake(request);
      if (refusal) return sendProblem(reply, problem(request, ...refusal));
      if ((socketsPerClient.get(request.ip) ?? 0) >= config.REALTIME_MAX_CONNECTIONS_PER_CLIENT) {
        const detail = `At most ${config.REALTIME_MAX_CONNECTIONS_PER_CLIENT} open sockets per client.`;
        return sendProblem(reply, problem(request, 429, detail));
      }
    },
    // A plain GET, without the upgrade headers.
    handler: async (request, reply) =>
      sendProblem(
        reply.header('upgrade', 'websocket'),
        problem(request, 426, 'Open a WebSocket here (Upgrade: websocket).'),
      ),
    wsHandler: (socket, request) => {
      const client = request.ip;
      socketsPerClient.set(client, (socketsPerClient.get(client) ?? 0) + 1);
      answeredPing.add(socket);
      socket.on('pong', () => answeredPing.add(socket));
      const subscriptions = new Map<RealtimeTopic, () => void>();

      const sendFrame = (frame: string) => {
        if (socket.readyState !== socket.OPEN) return;
        if (socket.bufferedAmount > config.REALTIME_MAX_BUFFERED_BYTES) {
          // A client that stopped reading: drop it rather than buffer without bound. The close
          // frame waits behind the queued data, so the socket is cut if it does not go out soon.
          request.log.warn({ bufferedAmount: socket.bufferedAmount }, 'real-time client too slow');
          socket.close(RealtimeCloseCode.tryAgainLater, 'send buffer full');
          setTimeout(() => socket.terminate(), 1000).unref();
          return;
        }
        socket.send(frame);
      };
      const send = (message: RealtimeServerMessage) => sendFrame(JSON.stringify(message));
      const refuse = (title: string, detail: string) =>
        send({ type: 'error', data: { title, detail } });

      socket.on('message', (data, isBinary) => {
        const parsed = parse(data, isBinary);
        if (parsed.error !== undefined) return refuse('Bad Request', parsed.error);
        const {
          type,
          data: { topic },
        } = parsed.message;
        if (type === 'unsubscribe') {
          subscriptions.get(topic)?.();
          subscriptions.delete(topic);
          return send({ type: 'unsubscribed', data: { topic } });
        }
        if (!subscriptions.has(topic)) {
          if (subscriptions.size >= config.REALTIME_MAX_SUBSCRIPTIONS) {
            const detail = `At most ${config.REALTIME_MAX_SUBSCRIPTIONS} subscriptions per socket.`;
            return refuse('Too Many Subscriptions', detail);
          }
          if (!mayRead(request, topic)) return refuse('Forbidden', `You may not read ${topic}.`);
          subscriptions.set(topic, fastify.realtime.subscribe(topic, sendFrame));
        }
        return send({ type: 'subscribed', data: { topic } });
      });

      socket.on('close', () => {
        for (const unsubscribe of subscriptions.values()) unsubscribe();
        const left = (socketsPerClient.get(client) ?? 1) - 1;
        if (left === 0) socketsPerClient.delete(client);
        else socketsPerClient.set(client, left);
      });
    },
  });
};

export default realtimeRoutes;
