import type { FastifyPluginAsyncZod } from '@fastify/type-provider-zod';
import { PredictionCreate, PredictionsPublic, Problem } from '#contracts';
import { type MlJson, MlUnavailableError } from '../../../ml/client.ts';
import { callContext, unlessMlIsDown } from '../../../plugins/app/ml-service.ts';

/** POST /v1/predictions: classify now, with the ML service's model (synchronous path). */
const predictionsRoutes: FastifyPluginAsyncZod = async (fastify) => {
  fastify.post(
    '/',
    {
      schema: {
        tags: ['predictions'],
        operationId: 'createPrediction',
        summary: 'Classify up to 100 flowers now (the ML service runs the model)',
        body: PredictionCreate,
        response: { 200: PredictionsPublic, 400: Problem, 503: Problem },
      },
    },
    async (request) => {
      const { ml } = fastify;
      return ml
        .call(callContext(request), async (init) => {
          const { data, status } = await ml.send<MlJson<'/v1/predictions', 'post', 200>>(
            'POST',
            '/v1/predictions',
            { ...init, body: request.body },
          );
          if (data) return data;
          // The gateway validated the body already: any refusal is the ML service's fault.
          throw new MlUnavailableError(`the ML service answered ${status}`);
        })
        .catch(unlessMlIsDown);
    },
  );
};

export default predictionsRoutes;
