FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY tracker ./tracker
COPY workers ./workers
COPY web ./web
COPY reporting ./reporting
COPY migrations ./migrations
RUN pip install --no-cache-dir . && useradd --create-home calcitrack
USER calcitrack
ENV CALCITRACK_INSTANCE=/home/calcitrack/instance
EXPOSE 8000
