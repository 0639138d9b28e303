"""Infliximab products: the managed list (seeded by the next migration), the product of each
infusion and course, and lot numbers as printed codes."""

import django.core.validators
import django.db.models.deletion
import registry.models
import simple_history.models
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('registry', '0009_lab_unit_codes_constraint'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AlterField(
            model_name='historicalinfusion',
            name='lot_number',
            field=models.CharField(blank=True, help_text='The batch (lot) on the vial, as printed: letters, digits, - . /', max_length=40, validators=[django.core.validators.RegexValidator('^[A-Za-z0-9][A-Za-z0-9./-]*$', "A lot number is the code printed on the vial: letters, digits, '-', '.' or '/', no spaces.")]),
        ),
        migrations.AlterField(
            model_name='infusion',
            name='lot_number',
            field=models.CharField(blank=True, help_text='The batch (lot) on the vial, as printed: letters, digits, - . /', max_length=40, validators=[django.core.validators.RegexValidator('^[A-Za-z0-9][A-Za-z0-9./-]*$', "A lot number is the code printed on the vial: letters, digits, '-', '.' or '/', no spaces.")]),
        ),
        migrations.CreateModel(
            name='HistoricalInfliximabProduct',
            fields=[
                ('id', models.BigIntegerField(auto_created=True, blank=True, db_index=True, verbose_name='ID')),
                ('created_at', models.DateTimeField(blank=True, editable=False)),
                ('updated_at', models.DateTimeField(blank=True, editable=False)),
                ('code', models.SlugField(help_text="The product's code in the API, e.g. 'remsima'.", max_length=30)),
                ('name', models.CharField(db_index=True, help_text='The brand name, e.g. Remsima.', max_length=100)),
                ('manufacturer', models.CharField(help_text='The marketing-authorisation holder (or manufacturer).', max_length=200)),
                ('is_biosimilar', models.BooleanField(help_text='A biosimilar of the originator (Remicade), or the originator itself.')),
                ('atc_code', models.CharField(default='L04AB02', help_text="The substance's WHO ATC code: infliximab is L04AB02.", max_length=7, verbose_name='ATC code')),
                ('ema_product_number', models.CharField(blank=True, help_text="The European Medicines Agency's product number (EPAR), e.g. EMEA/H/C/000240.", max_length=20, validators=[django.core.validators.RegexValidator('^EMEA/H/C/\\d{6}$', 'Write it as the EMA does: EMEA/H/C/000240.')], verbose_name='EMA product number')),
                ('rxnorm_cui', models.CharField(blank=True, help_text="The product's RxNorm concept (a branded drug, SBD), where it has one.", max_length=12, validators=[django.core.validators.RegexValidator('^\\d+$', 'An RxNorm concept id is digits only.')], verbose_name='RxNorm CUI')),
                ('history_id', models.AutoField(primary_key=True, serialize=False)),
                ('history_date', models.DateTimeField(db_index=True)),
                ('history_change_reason', models.CharField(max_length=100, null=True)),
                ('history_type', models.CharField(choices=[('+', 'Created'), ('~', 'Changed'), ('-', 'Deleted')], max_length=1)),
                ('history_user', models.ForeignKey(null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to=settings.AUTH_USER_MODEL)),
            ],
            options={
                'verbose_name': 'historical infliximab product',
                'verbose_name_plural': 'historical infliximab products',
                'ordering': ('-history_date', '-history_id'),
                'get_latest_by': ('history_date', 'history_id'),
            },
            bases=(simple_history.models.HistoricalChanges, models.Model),
        ),
        migrations.CreateModel(
            name='InfliximabProduct',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('created_at', models.DateTimeField(auto_now_add=True)),
                ('updated_at', models.DateTimeField(auto_now=True)),
                ('code', models.SlugField(help_text="The product's code in the API, e.g. 'remsima'.", max_length=30, unique=True)),
                ('name', models.CharField(help_text='The brand name, e.g. Remsima.', max_length=100, unique=True)),
                ('manufacturer', models.CharField(help_text='The marketing-authorisation holder (or manufacturer).', max_length=200)),
                ('is_biosimilar', models.BooleanField(help_text='A biosimilar of the originator (Remicade), or the originator itself.')),
                ('atc_code', models.CharField(default='L04AB02', help_text="The substance's WHO ATC code: infliximab is L04AB02.", max_length=7, verbose_name='ATC code')),
                ('ema_product_number', models.CharField(blank=True, help_text="The European Medicines Agency's product number (EPAR), e.g. EMEA/H/C/000240.", max_length=20, validators=[django.core.validators.RegexValidator('^EMEA/H/C/\\d{6}$', 'Write it as the EMA does: EMEA/H/C/000240.')], verbose_name='EMA product number')),
                ('rxnorm_cui', models.CharField(blank=True, help_text="The product's RxNorm concept (a branded drug, SBD), where it has one.", max_length=12, validators=[django.core.validators.RegexValidator('^\\d+$', 'An RxNorm concept id is digits only.')], verbose_name='RxNorm CUI')),
            ],
            options={
                'verbose_name': 'infliximab product',
                'ordering': ['is_biosimilar', 'name'],
                'constraints': [models.CheckConstraint(condition=models.Q(('atc_code', 'L04AB02')), name='product_is_infliximab', violation_error_message='This list holds infliximab products only (ATC L04AB02).'), models.CheckConstraint(condition=models.Q(models.Q(('code', ''), _negated=True), models.Q(('name', ''), _negated=True), models.Q(('manufacturer', ''), _negated=True)), name='product_named')],
            },
        ),
        migrations.AddField(
            model_name='historicalinfusion',
            name='product',
            field=registry.models.ProductForeignKey(blank=True, db_constraint=False, error_messages={'invalid': "Choose one of the registry's infliximab products."}, help_text="The product given. Left empty, the registry takes the previous infusion's of the course (else the course's).", null=True, on_delete=django.db.models.deletion.DO_NOTHING, related_name='+', to='registry.infliximabproduct', verbose_name='infliximab product'),
        ),
        migrations.AddField(
            model_name='historicaltreatmentcourse',
            name='product',
            field=registry.models.ProductForeignKey(blank=True, db_constraint=False, error_messages={'invalid': "Choose one of the registry's infliximab products."}, help_text='The product planned for this course; each infusion records the one it was given with.', null=True, on_delete=django.db.models.deletion.DO_NOTHING, related_name='+', to='registry.infliximabproduct', verbose_name='infliximab product'),
        ),
        migrations.AddField(
            model_name='infusion',
            name='product',
            field=registry.models.ProductForeignKey(blank=True, error_messages={'invalid': "Choose one of the registry's infliximab products."}, help_text="The product given. Left empty, the registry takes the previous infusion's of the course (else the course's).", null=True, on_delete=django.db.models.deletion.PROTECT, related_name='infusions', to='registry.infliximabproduct', verbose_name='infliximab product'),
        ),
        migrations.AddField(
            model_name='treatmentcourse',
            name='product',
            field=registry.models.ProductForeignKey(blank=True, error_messages={'invalid': "Choose one of the registry's infliximab products."}, help_text='The product planned for this course; each infusion records the one it was given with.', null=True, on_delete=django.db.models.deletion.PROTECT, related_name='courses', to='registry.infliximabproduct', verbose_name='infliximab product'),
        ),
    ]
