import type { FastifyPluginAsyncZod } from '@fastify/type-provider-zod';
import { ModelParams, ModelPublic, Problem } from '#contracts';
import { HttpProblem } from '../../../errors.ts';
import { MlUnavailableError } from '../../../ml/client.ts';
import { callContext, unlessMlIsDown } from '../../../plugins/app/ml-service.ts';

/** GET /v1/models/:name: the ML service's description of a model it serves (python-api's route). */
const modelsRoutes: FastifyPluginAsyncZod = async (fastify) => {
  fastify.get(
    '/:name',
    {
      schema: {
        tags: ['models'],
        operationId: 'readModel',
        summary: 'Describe a served model: its classes, features and training',
        params: ModelParams,
        response: { 200: ModelPublic, 400: Problem, 404: Problem, 503: Problem },
      },
    },
    async (request) => {
      const { ml } = fastify;
      const { name } = request.params;
      return ml
        .call(callContext(request), async (init) => {
          const { data, response } = await ml.api.GET('/v1/models/{name}', {
            ...init,
            params: { path: { name } },
          });
          if (data) return data;
          if (response.status === 404) {
            throw new HttpProblem(404, `No model named ${JSON.stringify(name)} is served.`);
          }
          throw new MlUnavailableError(`the ML service answered ${response.status}`);
        })
        .catch(unlessMlIsDown);
    },
  );
};

export default modelsRoutes;
