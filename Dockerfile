# meshgate control plane (and the demo apps, which share the image).
FROM node:20-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json ./
COPY src ./src
COPY proto ./proto
RUN npm run build && npm prune --omit=dev

FROM node:20-slim
WORKDIR /app
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY package.json ./
COPY bin ./bin
COPY proto ./proto
COPY examples ./examples
EXPOSE 18000 19000
ENTRYPOINT ["node", "bin/meshgate.js"]
CMD ["serve", "-f", "/config/mesh.yaml", "--xds-listen", "0.0.0.0:18000", "--admin-listen", "0.0.0.0:19000"]
