"""The pieces of tools/try_ollama.py (`make try`), which runs the plugin's model classes against a live Ollama.

- console: plain or coloured output, and the plugin's warnings shown in its flow.
- replies: a streamed reply shown as its thinking block and its answer.
- server_models: the server's models and capabilities, and the tests that pick a model for a step.
- session: one run, its steps' outcomes, model choice and the credential check every step starts with.
- chat_steps, embedding_step, rerank_step, audio_steps: the steps, one module per model type.
- connection: reaching Ollama, or explaining why it cannot be used.
"""
