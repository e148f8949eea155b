// Graph schema for falkordb, rendered from memory_runtime/stores/graph/schema.py by
// tools/render_graph_schema.py for the default 384 dimensions (`agent-memory migrate` uses the configured
// MEMORY_EMBEDDING_DIMENSIONS and creates only what is missing).
// FalkorDB has no IF NOT EXISTS; uniqueness is the Redis command GRAPH.CONSTRAINT (shown as comments).
CREATE INDEX FOR (n:`User`) ON (n.id);
CREATE INDEX FOR (n:`Conversation`) ON (n.id);
CREATE INDEX FOR (n:`Turn`) ON (n.id);
CREATE INDEX FOR (n:`Entity`) ON (n.id);
CREATE INDEX FOR (n:`EntityAlias`) ON (n.id);
CREATE INDEX FOR (n:`Fact`) ON (n.id);
CREATE INDEX FOR (n:`Tool`) ON (n.id);
CREATE INDEX FOR (n:`Strategy`) ON (n.id);
CREATE INDEX FOR (n:`TaskType`) ON (n.id);
CREATE INDEX FOR (n:`Goal`) ON (n.id);
CREATE INDEX FOR (n:`Preference`) ON (n.id);
CREATE INDEX FOR (n:`Topic`) ON (n.id);
CREATE INDEX FOR (n:`Reflection`) ON (n.id);
CREATE INDEX FOR (n:`User`) ON (n.`user_id`);
CREATE INDEX FOR (n:`Conversation`) ON (n.`user_id`);
CREATE INDEX FOR (n:`Turn`) ON (n.`user_id`);
CREATE INDEX FOR (n:`Entity`) ON (n.`user_id`);
CREATE INDEX FOR (n:`EntityAlias`) ON (n.`user_id`);
CREATE INDEX FOR (n:`Fact`) ON (n.`user_id`);
CREATE INDEX FOR (n:`Tool`) ON (n.`user_id`);
CREATE INDEX FOR (n:`Strategy`) ON (n.`user_id`);
CREATE INDEX FOR (n:`TaskType`) ON (n.`user_id`);
CREATE INDEX FOR (n:`Goal`) ON (n.`user_id`);
CREATE INDEX FOR (n:`Preference`) ON (n.`user_id`);
CREATE INDEX FOR (n:`Topic`) ON (n.`user_id`);
CREATE INDEX FOR (n:`Reflection`) ON (n.`user_id`);
CREATE INDEX FOR (n:`Turn`) ON (n.`conversation_id`);
CREATE INDEX FOR (n:`Turn`) ON (n.`timestamp`);
CREATE INDEX FOR (n:`Entity`) ON (n.`norm_name`);
CREATE INDEX FOR (n:`Fact`) ON (n.`invalid_at`);
CREATE INDEX FOR (n:`Fact`) ON (n.`claim_key`);
CREATE INDEX FOR (n:`Fact`) ON (n.`slot_key`);
CREATE INDEX FOR (n:`Goal`) ON (n.`status`);
CREATE INDEX FOR (n:`Tool`) ON (n.`name`);
CREATE INDEX FOR (n:`Entity`) ON (n.`norm_aliases`);
// GRAPH.CONSTRAINT CREATE <graph> UNIQUE NODE User PROPERTIES 1 id
// GRAPH.CONSTRAINT CREATE <graph> UNIQUE NODE Conversation PROPERTIES 1 id
// GRAPH.CONSTRAINT CREATE <graph> UNIQUE NODE Turn PROPERTIES 1 id
// GRAPH.CONSTRAINT CREATE <graph> UNIQUE NODE Entity PROPERTIES 1 id
// GRAPH.CONSTRAINT CREATE <graph> UNIQUE NODE EntityAlias PROPERTIES 1 id
// GRAPH.CONSTRAINT CREATE <graph> UNIQUE NODE Fact PROPERTIES 1 id
// GRAPH.CONSTRAINT CREATE <graph> UNIQUE NODE Tool PROPERTIES 1 id
// GRAPH.CONSTRAINT CREATE <graph> UNIQUE NODE Strategy PROPERTIES 1 id
// GRAPH.CONSTRAINT CREATE <graph> UNIQUE NODE TaskType PROPERTIES 1 id
// GRAPH.CONSTRAINT CREATE <graph> UNIQUE NODE Goal PROPERTIES 1 id
// GRAPH.CONSTRAINT CREATE <graph> UNIQUE NODE Preference PROPERTIES 1 id
// GRAPH.CONSTRAINT CREATE <graph> UNIQUE NODE Topic PROPERTIES 1 id
// GRAPH.CONSTRAINT CREATE <graph> UNIQUE NODE Reflection PROPERTIES 1 id
CREATE VECTOR INDEX FOR (n:`Turn`) ON (n.`embedding`) OPTIONS {dimension: 384, similarityFunction: 'cosine', efRuntime: 100, efConstruction: 100};
CREATE VECTOR INDEX FOR (n:`Entity`) ON (n.`embedding`) OPTIONS {dimension: 384, similarityFunction: 'cosine', efRuntime: 100, efConstruction: 100};
CREATE VECTOR INDEX FOR (n:`Fact`) ON (n.`embedding`) OPTIONS {dimension: 384, similarityFunction: 'cosine', efRuntime: 100, efConstruction: 100};
CREATE VECTOR INDEX FOR (n:`Strategy`) ON (n.`embedding`) OPTIONS {dimension: 384, similarityFunction: 'cosine', efRuntime: 100, efConstruction: 100};
CREATE VECTOR INDEX FOR (n:`Goal`) ON (n.`embedding`) OPTIONS {dimension: 384, similarityFunction: 'cosine', efRuntime: 100, efConstruction: 100};
CREATE FULLTEXT INDEX FOR (n:`Entity`) ON (n.`name`, n.`aliases_text`, n.`description`);
CREATE FULLTEXT INDEX FOR (n:`Fact`) ON (n.`claim`);
CREATE FULLTEXT INDEX FOR (n:`Turn`) ON (n.`content`);
