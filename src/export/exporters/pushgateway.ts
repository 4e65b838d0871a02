/** PushGateway push: the full snapshot PUT to the group every interval. */
import { PushGatewayMetricReader } from '../PushGatewayMetricReader.ts';
import type { ExporterDefinition } from './types.ts';

export const pushGatewayExporter: ExporterDefinition = {
  name: 'pushgateway',
  create({ config, health, readerOptions }) {
    const { scopeLabels, targetInfo } = config.prometheus;
    const reader = new PushGatewayMetricReader({ ...config.pushgateway, scopeLabels, targetInfo, health }, readerOptions);
    return { reader, describe: () => `${reader.groupUrl} every ${config.pushgateway.intervalMs / 1000}s` };
  },
};
