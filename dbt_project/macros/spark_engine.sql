{#- `defectflow build --engine spark` (pipelines/spark_engine.py): the raw tables, exported by
    DuckDB as Parquet into `folder`, become the `raw` sources on Spark under their own names. -#}
{% macro register_raw_sources(folder) %}
    {% do run_query('create database if not exists raw') %}
    {% for source in graph.sources.values() if source.source_name == 'raw' %}
        {#- SQL text: identifiers only (the project's source names) and the build's own folder -#}
        {% do run_query('drop table if exists raw.' ~ source.name) %}
        {% do run_query("create table raw." ~ source.name ~ " using parquet location '" ~ folder ~ "/" ~ source.name ~ "'") %}
    {% endfor %}
{% endmacro %}
